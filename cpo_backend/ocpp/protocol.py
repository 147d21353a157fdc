"""OCPP-J framing and validation: frames in, frames out, CallErrors for everything else.

Validation is strict (the OCA's JSON schemas, shipped in the ``ocpp`` package) but
cheap: each schema is compiled once into Python code by ``fastjsonschema``, instead of
being interpreted by ``jsonschema`` on a worker thread for every message, which alone
caps a process at a few thousand messages per second.

The error codes differ between versions (1.6 spells ``FormationViolation`` and
``OccurenceConstraintViolation``; 2.0.1 ``FormatViolation`` and
``OccurrenceConstraintViolation`` and adds ``RpcFrameworkError``), so every error is
raised with a version-neutral :class:`ErrorKind` and named by :class:`OcppVersion`.

Deliberate tolerance (common charger deviations):

- a ``date-time`` without offset (``2026-01-01T10:00:00``) is accepted and read as UTC;
- ``multipleOf`` (1.6 charging rates in steps of 0.1) is not enforced, because binary
  floats make 21.4 fail it;
- everything else in the schemas is enforced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
import orjson

CALL = 2
CALL_RESULT = 3
CALL_ERROR = 4

# Unique id used when a frame is too broken to read its own (OCPP 2.0.1 4.2.3).
UNKNOWN_MESSAGE_ID = "-1"

# RFC 3339 date-time, the offset optional (see module docstring).
_LENIENT_DATE_TIME = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$"


class ErrorKind(Enum):
    """What went wrong, independent of how a version spells it."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL = "InternalError"
    PROTOCOL = "ProtocolError"
    SECURITY = "SecurityError"
    FORMAT = "FormatViolation"
    PROPERTY_CONSTRAINT = "PropertyConstraintViolation"
    OCCURRENCE_CONSTRAINT = "OccurrenceConstraintViolation"
    TYPE_CONSTRAINT = "TypeConstraintViolation"
    GENERIC = "GenericError"
    # 2.0.1 only; 1.6 falls back as the version says.
    RPC_FRAMEWORK = "RpcFrameworkError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"


class OcppError(Exception):
    """Answered to the charger as a CallError."""

    def __init__(self, kind: ErrorKind, description: str, unique_id: str | None = None) -> None:
        super().__init__(description)
        self.kind = kind
        self.description = description
        self.unique_id = unique_id


@dataclass(frozen=True, slots=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    unique_id: str
    code: str
    description: str
    details: dict[str, Any]


Frame = Call | CallResult | CallError


class OcppVersion:
    """One OCPP-J version: its subprotocol, schemas and error vocabulary."""

    def __init__(
        self,
        name: str,
        subprotocol: str,
        schema_package: str,
        request_suffix: str,
        error_codes: dict[ErrorKind, str],
        actions: frozenset[str],
    ) -> None:
        self.name = name
        self.subprotocol = subprotocol
        self._schema_package = schema_package
        self._request_suffix = request_suffix
        self._error_codes = error_codes
        self.actions = actions
        self._validators: dict[str, Callable[[Any], Any]] = {}

    def error_code(self, kind: ErrorKind) -> str:
        return self._error_codes.get(kind, kind.value)

    def validate_request(self, action: str, payload: Any) -> None:
        self._validate(action + self._request_suffix, payload)

    def validate_response(self, action: str, payload: Any) -> None:
        self._validate(action + "Response", payload)

    def _validate(self, schema_name: str, payload: Any) -> None:
        validator = self._validators.get(schema_name)
        if validator is None:
            validator = self._validators[schema_name] = _compile(self._schema_package, schema_name)
        try:
            validator(payload)
        except fastjsonschema.JsonSchemaValueException as error:
            raise OcppError(self._schema_error_kind(error), error.message) from None

    def _schema_error_kind(self, error: Any) -> ErrorKind:
        rule = error.rule
        if rule == "required":
            return ErrorKind.PROTOCOL if self.name == "1.6" else ErrorKind.OCCURRENCE_CONSTRAINT
        if rule in ("type", "maxLength", "minLength", "format"):
            return ErrorKind.TYPE_CONSTRAINT
        if rule in ("minItems", "maxItems"):
            return ErrorKind.OCCURRENCE_CONSTRAINT
        if rule in ("additionalProperties", "properties"):
            return ErrorKind.FORMAT
        return ErrorKind.PROPERTY_CONSTRAINT

    def error_frame(self, error: OcppError, unique_id: str | None = None) -> str:
        message_id = unique_id or error.unique_id or UNKNOWN_MESSAGE_ID
        return encode([CALL_ERROR, message_id, self.error_code(error.kind), error.description, {}])


@cache
def _compile(schema_package: str, schema_name: str) -> Callable[[Any], Any]:
    resource = resources.files(schema_package).joinpath(f"{schema_name}.json")
    try:
        text = resource.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise OcppError(ErrorKind.NOT_SUPPORTED, f"no schema for {schema_name}") from None
    schema = _without_multiple_of(json.loads(text))
    # use_default off: validation must not write the schema's defaults into the payload,
    # so what is stored is what the charger said and what is sent is what we meant.
    compiled: Callable[[Any], Any] = fastjsonschema.compile(
        schema, formats={"date-time": _LENIENT_DATE_TIME}, use_default=False
    )
    return compiled


def _without_multiple_of(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_multiple_of(v) for k, v in node.items() if k != "multipleOf"}
    if isinstance(node, list):
        return [_without_multiple_of(item) for item in node]
    return node


def encode(message: list[Any]) -> str:
    return orjson.dumps(message).decode()


_UNIQUE_ID = re.compile(r'^\s*\[\s*\d+\s*,\s*"([^"\\]{1,64})"')


def decode(text: str | bytes) -> Frame:
    """Parse one frame, or raise :class:`OcppError` carrying whatever unique id was readable."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        readable = _UNIQUE_ID.match(
            text if isinstance(text, str) else text.decode("utf-8", "replace")
        )
        raise OcppError(
            ErrorKind.RPC_FRAMEWORK,
            "frame is not valid JSON",
            readable.group(1) if readable else None,
        ) from None
    if not isinstance(message, list) or len(message) < 3:
        raise OcppError(ErrorKind.RPC_FRAMEWORK, "frame is not an OCPP-J array")
    message_type, unique_id = message[0], message[1]
    if not isinstance(unique_id, str) or not 0 < len(unique_id) <= 36:
        raise OcppError(ErrorKind.RPC_FRAMEWORK, "message id must be a string of 1 to 36 chars")
    if message_type == CALL:
        if len(message) != 4 or not isinstance(message[2], str):
            raise OcppError(
                ErrorKind.RPC_FRAMEWORK, "a CALL is [2, id, action, payload]", unique_id
            )
        if not isinstance(message[3], dict):
            raise OcppError(ErrorKind.FORMAT, "the payload of a CALL must be an object", unique_id)
        return Call(unique_id, message[2], message[3])
    if message_type == CALL_RESULT:
        if len(message) != 3 or not isinstance(message[2], dict):
            raise OcppError(ErrorKind.RPC_FRAMEWORK, "a CALLRESULT is [3, id, payload]", unique_id)
        return CallResult(unique_id, message[2])
    if message_type == CALL_ERROR:
        if len(message) not in (4, 5):
            raise OcppError(ErrorKind.RPC_FRAMEWORK, "a CALLERROR has 5 elements", unique_id)
        details = message[4] if len(message) == 5 and isinstance(message[4], dict) else {}
        return CallError(unique_id, str(message[2]), str(message[3]), details)
    raise OcppError(
        ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED,
        f"message type {message_type!r} is not known",
        unique_id,
    )

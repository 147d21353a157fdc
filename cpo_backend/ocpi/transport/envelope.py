"""The OCPI response envelope and the OCPI status codes.

Every answer we give, errors included, is ``{data, status_code, status_message,
timestamp}``; a partner's client parses that shape before it looks at anything else.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import orjson
from starlette.responses import Response

from cpo_backend.domain.time import format_utc, utc_now


class StatusCode(IntEnum):
    """OCPI 2.2.1 status codes (status_codes.asciidoc)."""

    SUCCESS = 1000
    CLIENT_ERROR = 2000
    INVALID_PARAMETERS = 2001
    NOT_ENOUGH_INFORMATION = 2002
    UNKNOWN_LOCATION = 2003
    UNKNOWN_TOKEN = 2004
    SERVER_ERROR = 3000
    UNABLE_TO_USE_CLIENT_API = 3001
    UNSUPPORTED_VERSION = 3002
    NO_MATCHING_ENDPOINTS = 3003


class OcpiError(Exception):
    """Raised anywhere in a request: becomes an envelope with this status and HTTP code.

    The spec wants HTTP 200 for requests that reached the OCPI layer, so that is the
    default; transport-level failures (401, 404, 405) pass their own HTTP code.
    """

    def __init__(
        self, status_code: StatusCode, message: str, *, http_status: int = 200, data: Any = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.http_status = http_status
        self.data = data


def envelope(data: Any, status_code: int = StatusCode.SUCCESS, message: str | None = None) -> Any:
    body: dict[str, Any] = {"data": data, "status_code": int(status_code)}
    body["status_message"] = message or ("Success" if status_code == StatusCode.SUCCESS else None)
    body["timestamp"] = format_utc(utc_now())
    return body


class OcpiResponse(Response):
    """A JSON response whose body is already the envelope."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ocpi_response(
    data: Any = None,
    status_code: int = StatusCode.SUCCESS,
    message: str | None = None,
    *,
    http_status: int = 200,
    headers: dict[str, str] | None = None,
) -> OcpiResponse:
    return OcpiResponse(
        envelope(data, status_code, message), status_code=http_status, headers=headers
    )

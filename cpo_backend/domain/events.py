"""Domain events: what happened, appended to the durable log in the commit of the fact.

Adapters react to events instead of being called by the domain (OCPI pushes a location
update when a connector's status changes, a Session follows its transaction ...). Every
event is written to the event log (``domain_events``) in the very transaction of the
fact it reports, so the log never misses a fact and never holds one that did not
happen. Reactions that matter (OCPI sessions, CDRs, location pushes) are *projectors*
(:mod:`cpo_backend.db.projection`) that consume the log after the commit, at their own
pace, each with a persisted checkpoint: a bug there never refuses or delays a charger.
After each commit the events are also published in-process to *listeners*, which only
wake workers up and must not block.

Payloads are protocol-neutral and versioned: :func:`encode` and :func:`decode` turn an
event into its log row and back, by class name and ``VERSION``.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import orjson
import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DomainEvent:
    # Bumped when a field changes meaning; decode() refuses versions it does not know.
    VERSION: ClassVar[int] = 1

    station_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class StationConnected(DomainEvent):
    protocol: str


@dataclass(frozen=True, slots=True)
class StationDisconnected(DomainEvent):
    pass


@dataclass(frozen=True, slots=True)
class StationBooted(DomainEvent):
    registration: str


@dataclass(frozen=True, slots=True)
class ConnectorStatusChanged(DomainEvent):
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None


@dataclass(frozen=True, slots=True)
class TransactionStarted(DomainEvent):
    transaction_id: int
    evse_id: int
    connector_id: int
    id_token: str | None


@dataclass(frozen=True, slots=True)
class TransactionAuthorized(DomainEvent):
    """The driver's token became known after the start (OCPP 2.0.1 cable first)."""

    transaction_id: int
    id_token: str


@dataclass(frozen=True, slots=True)
class TransactionMetered(DomainEvent):
    transaction_id: int
    meter_wh: Decimal


@dataclass(frozen=True, slots=True)
class TransactionEnded(DomainEvent):
    """The transaction ended: by the charger (``closed_by`` None) or closed by us on an
    estimate (reconciled, superseded, force closed)."""

    transaction_id: int
    closed_by: str | None


@dataclass(frozen=True, slots=True)
class TransactionCorrected(DomainEvent):
    """Better data arrived for an ended transaction: the charger's real stop after we had
    closed it on an estimate. Its energy and end are now the charger's."""

    transaction_id: int


@dataclass(frozen=True, slots=True)
class TransactionReopened(DomainEvent):
    """A transaction we had reconciled at a boot is running after all: the charger went
    on reporting it (a reconnect it announced with a BootNotification, not a reboot).
    Its end is unknown again; the charger's stop will bring it."""

    transaction_id: int


@dataclass(frozen=True, slots=True)
class LocationChanged(DomainEvent):
    """The operator changed a Location or its EVSEs; ``station_id`` is empty."""

    location_id: str


@dataclass(frozen=True, slots=True)
class EvseStatusChanged(DomainEvent):
    """The OCPI status of an EVSE changed (derived from its station's connectors)."""

    location_id: str
    evse_uid: str
    status: str


@dataclass(frozen=True, slots=True)
class TariffChanged(DomainEvent):
    """The operator created, changed or deleted a tariff; ``station_id`` is empty."""

    tariff_id: str
    deleted: bool


Listener = Callable[[DomainEvent], None]


class UnknownEvent(Exception):
    """A log row of a type or version this code does not know (written by a newer one)."""


_TYPES: dict[str, type[DomainEvent]] = {}


def _event_type(name: str) -> type[DomainEvent] | None:
    kind = _TYPES.get(name)
    if kind is None:  # (a class defined since the last look, or none of that name)
        _TYPES.update(_event_types())
        kind = _TYPES.get(name)
    return kind


def _event_types() -> dict[str, type[DomainEvent]]:
    found: dict[str, type[DomainEvent]] = {}
    pending: list[type[DomainEvent]] = [DomainEvent]
    while pending:
        kind = pending.pop()
        # A slots dataclass is a new class: the module's name for it is the real one, the
        # class it was made from still shows among the subclasses.
        found[kind.__name__] = getattr(sys.modules[kind.__module__], kind.__name__)
        pending.extend(kind.__subclasses__())
    return found


_FIELDS: dict[type[DomainEvent], tuple[tuple[str, Any], ...]] = {}


def _fields(kind: type[DomainEvent]) -> tuple[tuple[str, Any], ...]:
    """The (name, type hint) of each field of ``kind``, resolved once per class."""
    found = _FIELDS.get(kind)
    if found is None:
        hints = typing.get_type_hints(kind)
        found = _FIELDS[kind] = tuple(
            (field.name, hints[field.name]) for field in dataclasses.fields(kind)
        )
    return found


def _as_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _from_json(value: Any, hint: Any) -> Any:
    if value is None:
        return None
    kinds = typing.get_args(hint) or (hint,)
    if datetime in kinds:
        return datetime.fromisoformat(value)
    if Decimal in kinds:
        return Decimal(value)
    return value


def encode(event: DomainEvent) -> tuple[str, int, str]:
    """``(type, version, payload)`` of the event's log row; payload is JSON text."""
    payload = {name: _as_json(getattr(event, name)) for name, _ in _fields(type(event))}
    return type(event).__name__, event.VERSION, orjson.dumps(payload).decode()


def decode(kind_name: str, version: int, payload: str) -> DomainEvent:
    """The event of a log row; raises :class:`UnknownEvent` for a type or version unknown."""
    kind = _event_type(kind_name)
    if kind is None or version != kind.VERSION:
        raise UnknownEvent(f"{kind_name} v{version}")
    values = orjson.loads(payload)
    return kind(**{name: _from_json(values.get(name), hint) for name, hint in _fields(kind)})


class EventBus:
    """In-process wake-ups after a commit; a Redis fan-out can subscribe here when several
    nodes run. Nothing that must happen depends on it: the log is the record."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def publish(self, events: Iterable[DomainEvent]) -> None:
        for event in events:
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:
                    # A broken listener must not stop the others or the writer.
                    log.exception("event listener failed", event_type=type(event).__name__)

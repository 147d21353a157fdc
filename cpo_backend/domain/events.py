"""Domain events: what happened, published after it is committed.

Adapters react to events instead of being called by the domain (OCPI pushes a location
update when a connector's status changes, the dashboard refreshes ...). Two kinds of
subscribers exist: *transactional* handlers run inside the write transaction that caused
the event, so what they write (an outbox row) commits with it or not at all; plain
listeners run after the commit and must not block.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DomainEvent:
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
class TransactionMetered(DomainEvent):
    transaction_id: int
    meter_wh: Any


@dataclass(frozen=True, slots=True)
class TransactionEnded(DomainEvent):
    transaction_id: int
    closed_by: str | None


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


TransactionalHandler = Callable[[Any, DomainEvent], Awaitable[None]]
Listener = Callable[[DomainEvent], None]


class EventBus:
    """In-process publication; a Redis fan-out can subscribe here when several nodes run."""

    def __init__(self) -> None:
        self.transactional_handlers: list[TransactionalHandler] = []
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
                    log.exception("event listener failed", event=type(event).__name__)

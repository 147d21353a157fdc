"""The protocol-neutral model: what a station, connector, token and transaction are,
whatever OCPP version the charger speaks. The operator API returns these as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from cpo_backend.domain.meter import SampledValue
from cpo_backend.domain.time import UtcTimestamp


class Record(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class Registration(StrEnum):
    """The operator's decision about a station; the BootNotification answer follows it."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class AuthorizationStatus(StrEnum):
    """Union of the 1.6 and 2.0.1 values; adapters map the ones their version lacks."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"
    NO_CREDIT = "NoCredit"
    NOT_ALLOWED_TYPE_EVSE = "NotAllowedTypeEVSE"
    NOT_AT_THIS_LOCATION = "NotAtThisLocation"
    NOT_AT_THIS_TIME = "NotAtThisTime"
    UNKNOWN = "Unknown"


class TransactionStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    # A stop the charger sent for a transaction we never saw start.
    ORPHAN = "orphan"


class ClosedBy(StrEnum):
    """Why the CSMS, not the charger, closed a transaction."""

    SUPERSEDED = "superseded"
    RECONCILED = "reconciled"
    FORCE_CLOSED = "force_closed"


class Station(Record):
    id: str
    registration: Registration
    auto_registered: bool
    has_password: bool
    protocol: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    last_boot_at: UtcTimestamp | None
    online: bool
    connected_at: UtcTimestamp | None
    last_seen_at: UtcTimestamp | None
    created_at: UtcTimestamp


class Connector(Record):
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    status_at: UtcTimestamp | None
    received_at: UtcTimestamp


class StationDetails(Station):
    connectors: list[Connector]


class IdToken(Record):
    id_token: str
    token_type: str
    status: AuthorizationStatus
    expiry_date: UtcTimestamp | None
    group_id: str | None
    created_at: UtcTimestamp
    updated_at: UtcTimestamp


class IdTokenInfo(Record):
    """What a charger is told about a token: status, expiry and group."""

    status: AuthorizationStatus
    expiry_date: UtcTimestamp | None = None
    group_id: str | None = None


class Transaction(Record):
    id: int
    station_id: str
    evse_id: int
    connector_id: int
    charger_transaction_id: str | None
    status: TransactionStatus
    id_token: str | None
    stop_id_token: str | None
    reservation_id: int | None
    meter_start_wh: Decimal | None
    meter_stop_wh: Decimal | None
    started_at: UtcTimestamp | None
    start_received_at: UtcTimestamp | None
    stopped_at: UtcTimestamp | None
    stop_received_at: UtcTimestamp | None
    stop_reason: str | None
    closed_by: ClosedBy | None
    close_note: str | None
    last_meter_wh: Decimal | None
    last_meter_at: UtcTimestamp | None
    # OCPP 2.0.1 chargingState; None for 1.6, which reports it as the connector status.
    charging_state: str | None = None

    @property
    def energy_wh(self) -> Decimal | None:
        end = self.meter_stop_wh if self.meter_stop_wh is not None else self.last_meter_wh
        if end is None or self.meter_start_wh is None:
            return None
        return end - self.meter_start_wh


class MeterValue(Record):
    id: int
    evse_id: int
    connector_id: int
    transaction_id: int | None
    sampled_at: UtcTimestamp
    received_at: UtcTimestamp
    measurand: str
    phase: str | None
    location: str
    context: str
    unit: str
    value: Decimal | None
    raw_value: str
    raw_unit: str | None
    value_format: str
    after_stop: bool


class TransactionEvent(Record):
    """One OCPP 2.0.1 TransactionEvent as received (1.6 transactions have none)."""

    seq_no: int
    event_type: str
    trigger_reason: str
    charging_state: str | None
    stopped_reason: str | None
    offline: bool
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    number_of_phases_used: int | None
    cable_max_current: int | None
    reservation_id: int | None
    remote_start_id: int | None
    timestamp: UtcTimestamp
    received_at: UtcTimestamp


class TransactionDetails(Transaction):
    meter_values: list[MeterValue]
    # The charger's event journal (2.0.1), in seqNo order, and the seqNos never received.
    events: list[TransactionEvent] = []
    missing_seq_nos: list[int] = []


class MessageLogEntry(Record):
    id: int
    station_id: str
    direction: str
    message_type: int | None
    action: str | None
    unique_id: str | None
    payload: str
    logged_at: UtcTimestamp


class StationEvent(Record):
    id: int
    station_id: str
    kind: str
    payload: dict[str, Any]
    occurred_at: UtcTimestamp | None
    received_at: UtcTimestamp


# What the chargers tell and the listener checks, as the domain services take and give
# it. They stand here rather than beside their services so that the stores in db/ can
# take and return them without importing the services that call the stores.


@dataclass(frozen=True, slots=True)
class HandshakeView:
    """What the listener needs to accept or refuse a websocket upgrade."""

    station_id: str
    password_hash: str | None
    registration: Registration


@dataclass(frozen=True, slots=True)
class BootInfo:
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


@dataclass(frozen=True, slots=True)
class StatusReport:
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    status_at: datetime | None = None


class Frame(NamedTuple):
    """One frame in or out (``direction``), as the log keeps it: its OCPP message type
    (None for one we could not decode), action and message id when known, and its text."""

    station_id: str
    direction: str
    message_type: int | None
    action: str | None
    unique_id: str | None
    payload: str


@dataclass(frozen=True, slots=True)
class StartRequest:
    """A charger's start of a transaction (1.6 StartTransaction, a 2.0.1 event that opens one)."""

    station_id: str
    evse_id: int
    connector_id: int
    id_token: str | None
    meter_start_wh: Decimal | None
    started_at: datetime
    reservation_id: int | None = None
    # The charger's own id (2.0.1); None when we hand out the id (1.6).
    charger_transaction_id: str | None = None
    # The token's verdict when the caller asked already (2.0.1 asks for every event that
    # carries a token): asking twice would ask a roaming eMSP twice.
    id_token_info: IdTokenInfo | None = None


@dataclass(frozen=True, slots=True)
class StopRequest:
    """A charger's stop of a transaction (1.6 StopTransaction, a 2.0.1 Ended)."""

    station_id: str
    charger_transaction_id: str
    meter_stop_wh: Decimal | None
    stopped_at: datetime
    id_token: str | None = None
    reason: str | None = None
    samples: Sequence[SampledValue] = ()
    id_token_info: IdTokenInfo | None = None


@dataclass(frozen=True, slots=True)
class TransactionEventReport:
    """One TransactionEvent (OCPP 2.0.1), protocol spelling already translated: the
    journal keeps it as :class:`TransactionEvent`, its samples as meter values."""

    station_id: str
    charger_transaction_id: str
    seq_no: int
    event_type: str
    trigger_reason: str
    timestamp: datetime
    charging_state: str | None = None
    stopped_reason: str | None = None
    offline: bool = False
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    number_of_phases_used: int | None = None
    cable_max_current: int | None = None
    reservation_id: int | None = None
    remote_start_id: int | None = None
    samples: Sequence[SampledValue] = ()

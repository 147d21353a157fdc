"""The schema, shared by SQLite and PostgreSQL; Alembic migrations are written against it.

Statements are issued with SQLAlchemy Core on these tables (no ORM sessions): the hot
paths write in batches, and Core keeps that cheap and explicit.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cpo_backend.db.types import BigIntId, ExactDecimal, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _unique_where(name: str, *columns: Any, where: str) -> Index:
    """A unique index of the rows that meet ``where`` only, the same on both databases."""
    return Index(
        name,
        *columns,
        unique=True,
        sqlite_where=text(where),
        postgresql_where=text(where),
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UtcDateTime(),
        Decimal: ExactDecimal(),
        dict[str, Any]: JSON(),
    }


class StationRow(Base):
    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # What the operator decided: the BootNotification answer follows it.
    registration: Mapped[str] = mapped_column(String(16))
    auto_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    protocol: Mapped[str | None] = mapped_column(String(16))
    vendor: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    serial_number: Mapped[str | None] = mapped_column(String(64))
    firmware_version: Mapped[str | None] = mapped_column(String(64))
    iccid: Mapped[str | None] = mapped_column(String(32))
    imsi: Mapped[str | None] = mapped_column(String(32))
    meter_type: Mapped[str | None] = mapped_column(String(64))
    meter_serial_number: Mapped[str | None] = mapped_column(String(64))
    last_boot_at: Mapped[datetime | None]
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    connected_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    # ``last_seen_at`` when the current connection opened: the last sign of life before
    # it, which is how long a transaction a reboot ended ran at least.
    previous_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ConnectorRow(Base):
    """One connector of one EVSE; (evse 0, connector 0) holds the station-wide status.

    OCPP 1.6 connector N is stored as EVSE N with connector 1, so that both protocol
    versions (and OCPI) see the same shape.
    """

    __tablename__ = "connectors"

    station_id: Mapped[str] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True
    )
    evse_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(50))
    info: Mapped[str | None] = mapped_column(String(50))
    vendor_id: Mapped[str | None] = mapped_column(String(255))
    vendor_error_code: Mapped[str | None] = mapped_column(String(50))
    status_at: Mapped[datetime | None]
    received_at: Mapped[datetime]


class IdTokenRow(Base):
    __tablename__ = "id_tokens"

    id_token: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    expiry_date: Mapped[datetime | None]
    group_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TransactionRow(Base):
    """A charging session. ``id`` is ours and stable; ``charger_transaction_id`` is the
    charger's name for it (for 1.6 the decimal of our id, which we handed out)."""

    __tablename__ = "transactions"
    __table_args__ = (
        Index(None, "station_id", "evse_id", "status"),
        # One transaction per charger's name for it, so that a start replayed on two
        # nodes at once cannot open it twice. Orphans (a stop for a transaction never
        # seen start) stand outside: a 1.6 orphan keeps the charger's number, which may
        # later be the id we hand out to a new transaction.
        _unique_where(
            "uq_transactions_station_charger_transaction",
            "station_id",
            "charger_transaction_id",
            where="status <> 'orphan'",
        ),
        Index(None, "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    evse_id: Mapped[int] = mapped_column(Integer)
    connector_id: Mapped[int] = mapped_column(Integer)
    charger_transaction_id: Mapped[str | None] = mapped_column(String(64))
    # active | completed | orphan (a stop for a transaction we never saw start)
    status: Mapped[str] = mapped_column(String(16))
    id_token: Mapped[str | None] = mapped_column(String(64))
    stop_id_token: Mapped[str | None] = mapped_column(String(64))
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    meter_start_wh: Mapped[Decimal | None]
    meter_stop_wh: Mapped[Decimal | None]
    started_at: Mapped[datetime | None]
    start_received_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    stop_received_at: Mapped[datetime | None]
    # The charger's reason (Local, Remote, EVDisconnected ...) when it stopped it.
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    # How the CSMS closed it when the charger did not: superseded | reconciled | force_closed.
    closed_by: Mapped[str | None] = mapped_column(String(16))
    close_note: Mapped[str | None] = mapped_column(Text)
    last_meter_wh: Mapped[Decimal | None]
    last_meter_at: Mapped[datetime | None]
    # The 2.0.1 chargingState (Charging, EVConnected, SuspendedEV, SuspendedEVSE, Idle).
    charging_state: Mapped[str | None] = mapped_column(String(16))


# The columns of a meter sample's identity, in both unique indexes of ``MeterValueRow``.
_SAMPLE_IDENTITY = (
    "sampled_at",
    "measurand",
    text("coalesce(phase, '')"),
    "location",
    "context",
    "raw_value",
)


class MeterValueRow(Base):
    """One sampled value, normalised (``value``/``unit``) with what the charger sent kept."""

    __tablename__ = "meter_values"
    # The identity of a sample (what it measured, where, when, and the value as sent): a
    # charger that resends a message (after a lost answer, a reconnect, or an Ended
    # repeating its Started's Transaction.Begin sample) resends the same samples, and the
    # insert skips them; two different readings of one instant are both kept. It also
    # serves the reads by transaction, so every row still costs one index only; the rare
    # samples of no transaction have a small index of their own.
    __table_args__ = (
        Index("uq_meter_values_sample", "transaction_id", *_SAMPLE_IDENTITY, unique=True),
        _unique_where(
            "uq_meter_values_sample_without_transaction",
            "station_id",
            "evse_id",
            "connector_id",
            *_SAMPLE_IDENTITY,
            where="transaction_id IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64))
    evse_id: Mapped[int] = mapped_column(Integer)
    connector_id: Mapped[int] = mapped_column(Integer)
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    sampled_at: Mapped[datetime]
    received_at: Mapped[datetime]
    measurand: Mapped[str] = mapped_column(String(50))
    phase: Mapped[str | None] = mapped_column(String(8))
    location: Mapped[str] = mapped_column(String(8))
    context: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(16))
    value: Mapped[Decimal | None]
    raw_value: Mapped[str] = mapped_column(Text)
    raw_unit: Mapped[str | None] = mapped_column(String(16))
    value_format: Mapped[str] = mapped_column(String(16))
    # Sent for a transaction that had already stopped: kept, but not part of its energy.
    after_stop: Mapped[bool] = mapped_column(Boolean, default=False)


class MessageLogRow(Base):
    """Every OCPP frame in and out, per station, for the operator's troubleshooting."""

    __tablename__ = "ocpp_messages"
    __table_args__ = (Index(None, "station_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(3))
    message_type: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str | None] = mapped_column(String(64))
    unique_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    logged_at: Mapped[datetime]


class StationEventRow(Base):
    """Charger notifications kept as they came (DataTransfer, firmware and diagnostics
    status, security events ...): stored, shown to the operator, never refused."""

    __tablename__ = "station_events"
    __table_args__ = (Index(None, "station_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime]


class TransactionEventRow(Base):
    """Every OCPP 2.0.1 TransactionEvent received, as the charger numbered it.

    The unique key makes replays idempotent: a (transaction, seqNo) already journaled is
    answered again but changes nothing. Gaps in ``seq_no`` are read from here.
    """

    __tablename__ = "transaction_events"
    __table_args__ = (
        # An event's identity is its number *and* what it is: some chargers reuse a
        # seqNo for different events (every event numbered 0), which must be kept.
        UniqueConstraint(
            "station_id",
            "charger_transaction_id",
            "seq_no",
            "event_type",
            "timestamp",
            name="uq_transaction_events_identity",
        ),
        Index(None, "transaction_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64))
    charger_transaction_id: Mapped[str] = mapped_column(String(64))
    # Ours, once the event is tied to a transaction.
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    seq_no: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(16))
    trigger_reason: Mapped[str] = mapped_column(String(32))
    charging_state: Mapped[str | None] = mapped_column(String(16))
    stopped_reason: Mapped[str | None] = mapped_column(String(32))
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    evse_id: Mapped[int | None] = mapped_column(Integer)
    connector_id: Mapped[int | None] = mapped_column(Integer)
    id_token: Mapped[str | None] = mapped_column(String(64))
    number_of_phases_used: Mapped[int | None] = mapped_column(Integer)
    cable_max_current: Mapped[int | None] = mapped_column(Integer)
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    remote_start_id: Mapped[int | None] = mapped_column(Integer)
    # The charger's time of the event (kept as sent, also after offline operation).
    timestamp: Mapped[datetime]
    received_at: Mapped[datetime]


class RemoteStartRow(Base):
    """The token of each remote start we sent, by the id the charger echoes.

    Some 2.0.1 chargers start a remotely started transaction with ``remoteStartId`` and
    no idToken: the token we sent is then the driver's, or the session is never billed.
    """

    __tablename__ = "remote_starts"

    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    remote_start_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class DeviceModelVariableRow(Base):
    """One variable of a station's OCPP 2.0.1 device model, as its reports describe it.

    ``key`` is the full address (component, its instance and EVSE/connector, variable and
    its instance) in one string, so both databases enforce uniqueness although most of
    those parts are usually absent (NULLs never collide in a unique index).
    """

    __tablename__ = "device_model_variables"

    station_id: Mapped[str] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    component: Mapped[str] = mapped_column(String(50))
    component_instance: Mapped[str | None] = mapped_column(String(50))
    evse_id: Mapped[int | None] = mapped_column(Integer)
    connector_id: Mapped[int | None] = mapped_column(Integer)
    variable: Mapped[str] = mapped_column(String(50))
    variable_instance: Mapped[str | None] = mapped_column(String(50))
    # variableAttribute entries (type, value, mutability, persistent, constant).
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    characteristics: Mapped[dict[str, Any] | None]
    # The report that last described it (None: learnt from a GetVariables/SetVariables).
    request_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class DeviceModelReportRow(Base):
    """Progress of one report (GetBaseReport/GetReport) arriving in NotifyReport parts."""

    __tablename__ = "device_model_reports"

    station_id: Mapped[str] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True
    )
    request_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parts_received: Mapped[int] = mapped_column(Integer)
    # seqNo of the part with tbc=false, once it came; complete when every part up to it did.
    last_seq_no: Mapped[int | None] = mapped_column(Integer)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    variables: Mapped[int] = mapped_column(Integer)
    generated_at: Mapped[datetime]
    first_received_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    # The GetBaseReport base it answers, once its answer came (None for GetReport): a
    # complete FullInventory removes the variables it no longer lists.
    report_base: Mapped[str | None] = mapped_column(String(32))


class DomainEventRow(Base):
    """The durable event log: every domain fact, appended in the commit of the fact.

    ``id`` orders the log. One writer per database commits the batches one after the
    other, so ids become visible in increasing order and a reader that has seen id N
    never later finds a smaller one. ``payload`` is the event's fields as JSON text,
    read back through ``domain.events.decode`` by ``type`` and ``version``.
    """

    __tablename__ = "domain_events"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    station_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    payload: Mapped[str] = mapped_column(Text)


class ProjectorCheckpointRow(Base):
    """How far one projector has consumed the event log (the last event id it applied)."""

    __tablename__ = "projector_checkpoints"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigIntId)
    updated_at: Mapped[datetime]


class ProjectorFailureRow(Base):
    """An event a projector could not apply after its retries: skipped, kept for the
    operator (and for ``cpo-backend ocpi replay``) with the error."""

    __tablename__ = "projector_failures"
    __table_args__ = (UniqueConstraint("projector", "event_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    projector: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[int] = mapped_column(BigIntId)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime]

"""The stored transactions and their meter values: the statements
:mod:`cpo_backend.domain.transactions` runs (and :mod:`cpo_backend.domain.txevents`, for
the token of a remote start).

The service decides what a start, a stop or a sample means; this module knows the tables
``transactions``, ``meter_values`` and ``remote_starts`` and answers in the domain's
records. A function that takes a :class:`WriteTx` is a step of the caller's write
(``defer_*`` queue a write nobody reads back for the end of the batch, one
``executemany`` per statement); one that takes a :class:`Database` reads committed data.
The 2.0.1 event journal is :mod:`cpo_backend.db.transaction_event_store`'s.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Executable, Row, and_, bindparam, case, delete, insert, or_, select, update

from cpo_backend.db.bulk import BulkInsert
from cpo_backend.db.database import Database
from cpo_backend.db.tables import MeterValueRow, RemoteStartRow, StationRow, TransactionRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.meter import SampledValue
from cpo_backend.domain.model import (
    ClosedBy,
    MeterValue,
    StartRequest,
    StopRequest,
    Transaction,
    TransactionStatus,
)

# Deferred updates, one statement object each so that a batch's rows are one executemany:
# the charger's name of a 1.6 transaction (our id), and the charger's stop.
_NAMED = (
    update(TransactionRow)
    .where(TransactionRow.id == bindparam("b_id"))
    .values(charger_transaction_id=bindparam("b_name"))
)
_STOPPED = (
    update(TransactionRow)
    .where(TransactionRow.id == bindparam("b_id"))
    .values(
        status=TransactionStatus.COMPLETED.value,
        meter_stop_wh=bindparam("b_meter_stop"),
        stopped_at=bindparam("b_stopped_at"),
        stop_received_at=bindparam("b_received_at"),
        stop_reason=bindparam("b_reason"),
        stop_id_token=bindparam("b_id_token"),
        close_note=bindparam("b_note"),
        last_meter_wh=bindparam("b_last_meter"),
        last_meter_at=bindparam("b_last_meter_at"),
    )
)

# A stored meter value: where and when it was received, then the sample's own fields
# (``SampledValue``, their one definition).
METER_VALUE_COLUMNS = (
    "station_id",
    "evse_id",
    "connector_id",
    "transaction_id",
    "received_at",
    "after_stop",
    *SampledValue._fields,
)
_insert_meter_value = BulkInsert(
    MeterValueRow.__table__,  # type: ignore[arg-type]
    list(METER_VALUE_COLUMNS),
    # A sample already stored (the identity of uq_meter_values_sample) is a resend.
    skip_duplicates=True,
)
_advance_meter = (
    update(TransactionRow)
    .where(TransactionRow.id == bindparam("b_id"))
    .where(TransactionRow.status == TransactionStatus.ACTIVE.value)
    .where(
        or_(
            TransactionRow.last_meter_at.is_(None),
            TransactionRow.last_meter_at <= bindparam("b_at"),
        )
    )
    .values(last_meter_wh=bindparam("b_wh"), last_meter_at=bindparam("b_at"))
)


class StartMatch(NamedTuple):
    """A transaction of the station a new start meets: the one it repeats (``replay``),
    or one still active on its EVSE."""

    id: int
    # Never missing: a 1.6 transaction is named in the write that opened it, and every
    # read in a write first sends what the write deferred.
    charger_transaction_id: str
    last_meter_wh: Decimal | None
    last_meter_at: datetime | None
    replay: bool


class ActiveTransaction(NamedTuple):
    """An active transaction with the signs of how long it ran: its start, its last reading."""

    id: int
    last_meter_wh: Decimal | None
    last_meter_at: datetime | None
    started_at: datetime | None


# -- transactions, in a write ------------------------------------------------------------


async def same_start_or_active(tx: WriteTx, start: StartRequest) -> list[StartMatch]:
    """The station's transactions that ``start`` repeats or that are active on its EVSE.

    One read answers both questions: every statement in the writer is a round trip the
    whole batch waits for.
    """
    if start.charger_transaction_id is not None:
        # The charger names its transactions (2.0.1): the name identifies a replay.
        same_start = TransactionRow.charger_transaction_id == start.charger_transaction_id
    else:
        same_start = and_(
            TransactionRow.evse_id == start.evse_id,
            TransactionRow.connector_id == start.connector_id,
            TransactionRow.started_at == start.started_at,
            _matches(TransactionRow.meter_start_wh, start.meter_start_wh),
            _matches(TransactionRow.id_token, start.id_token),
        )
    active_here = and_(
        TransactionRow.evse_id == start.evse_id,
        TransactionRow.status == TransactionStatus.ACTIVE.value,
    )
    found = await tx.execute(
        select(
            TransactionRow.id,
            TransactionRow.charger_transaction_id,
            TransactionRow.last_meter_wh,
            TransactionRow.last_meter_at,
            case((same_start, True), else_=False).label("replay"),
        ).where(
            TransactionRow.station_id == start.station_id,
            TransactionRow.status != TransactionStatus.ORPHAN.value,
            or_(same_start, active_here),
        )
    )
    return [StartMatch._make(row) for row in found.all()]


async def insert_transaction(tx: WriteTx, start: StartRequest, received_at: datetime) -> int:
    """Insert the active transaction ``start`` opens, its start its last reading so far;
    returns our id."""
    inserted = await tx.execute(
        insert(TransactionRow)
        .values(
            station_id=start.station_id,
            evse_id=start.evse_id,
            connector_id=start.connector_id,
            charger_transaction_id=start.charger_transaction_id,
            status=TransactionStatus.ACTIVE.value,
            id_token=start.id_token,
            reservation_id=start.reservation_id,
            meter_start_wh=start.meter_start_wh,
            started_at=start.started_at,
            start_received_at=received_at,
            last_meter_wh=start.meter_start_wh,
            last_meter_at=start.started_at,
        )
        .returning(TransactionRow.id)
    )
    transaction_id: int = inserted.scalar_one()
    return transaction_id


def defer_charger_name(tx: WriteTx, transaction_id: int, charger_transaction_id: str) -> None:
    """Give a transaction the name the charger will use for it (1.6: the one we hand out)."""
    tx.defer(_NAMED, {"b_id": transaction_id, "b_name": charger_transaction_id})


async def insert_orphan(
    tx: WriteTx, stop: StopRequest, reason: str, received_at: datetime, *, note: str
) -> int:
    """Keep ``stop``, of a transaction never seen start, as an orphan; returns its id."""
    inserted = await tx.execute(
        insert(TransactionRow)
        .values(
            station_id=stop.station_id,
            evse_id=0,
            connector_id=0,
            charger_transaction_id=stop.charger_transaction_id,
            status=TransactionStatus.ORPHAN.value,
            stop_id_token=stop.id_token,
            meter_stop_wh=stop.meter_stop_wh,
            stopped_at=stop.stopped_at,
            stop_received_at=received_at,
            stop_reason=reason,
            close_note=note,
        )
        .returning(TransactionRow.id)
    )
    orphan_id: int = inserted.scalar_one()
    return orphan_id


def defer_stop(
    tx: WriteTx,
    transaction_id: int,
    stop: StopRequest,
    reason: str,
    received_at: datetime,
    *,
    note: str | None,
    last_meter_wh: Decimal | None,
    last_meter_at: datetime | None,
) -> None:
    """Record the charger's ``stop`` of a transaction: completed, with its values and the
    newest reading."""
    tx.defer(
        _STOPPED,
        {
            "b_id": transaction_id,
            "b_meter_stop": stop.meter_stop_wh,
            "b_stopped_at": stop.stopped_at,
            "b_received_at": received_at,
            "b_reason": reason,
            "b_id_token": stop.id_token,
            "b_note": note,
            "b_last_meter": last_meter_wh,
            "b_last_meter_at": last_meter_at,
        },
    )


async def close_on_estimate(
    tx: WriteTx,
    transaction_id: int,
    closed_by: ClosedBy,
    *,
    meter_stop_wh: Decimal | None,
    stopped_at: datetime,
    received_at: datetime,
    note: str,
) -> None:
    """Complete a transaction the charger did not stop, naming who closed it."""
    await tx.execute(
        update(TransactionRow)
        .where(TransactionRow.id == transaction_id)
        .values(
            status=TransactionStatus.COMPLETED.value,
            closed_by=closed_by.value,
            close_note=note,
            meter_stop_wh=meter_stop_wh,
            stopped_at=stopped_at,
            stop_received_at=received_at,
        )
    )


async def reopen_reconciled(tx: WriteTx, transaction_id: int, note: str) -> bool:
    """Make a transaction active again if a boot closed it (reconciled) and the charger
    has not stopped it since; False when it was not so."""
    changed = await tx.execute(
        update(TransactionRow)
        .where(
            TransactionRow.id == transaction_id,
            TransactionRow.status == TransactionStatus.COMPLETED.value,
            TransactionRow.closed_by == ClosedBy.RECONCILED.value,
            TransactionRow.stop_reason.is_(None),
        )
        .values(
            status=TransactionStatus.ACTIVE.value,
            closed_by=None,
            close_note=note,
            meter_stop_wh=None,
            stopped_at=None,
            stop_received_at=None,
        )
    )
    return bool(changed.rowcount)


async def update_transaction(tx: WriteTx, transaction_id: int, changes: Mapping[str, Any]) -> None:
    """Set fields of a transaction; ``changes`` are by :class:`Transaction` field name
    (its columns' names), in their stored form (a status by its value)."""
    await tx.execute(
        update(TransactionRow).where(TransactionRow.id == transaction_id).values(**changes)
    )


async def previous_seen_at(tx: WriteTx, station_id: str) -> datetime | None:
    """The station's last message before its current connection."""
    seen: datetime | None = (
        await tx.execute(select(StationRow.previous_seen_at).where(StationRow.id == station_id))
    ).scalar_one_or_none()
    return seen


async def active_on_station(
    tx: WriteTx, station_id: str, only: Collection[int] | None = None
) -> list[ActiveTransaction]:
    """The station's active transactions (of ``only`` those ids, if given)."""
    query = (
        select(
            TransactionRow.id,
            TransactionRow.last_meter_wh,
            TransactionRow.last_meter_at,
            TransactionRow.started_at,
        )
        .where(TransactionRow.station_id == station_id)
        .where(TransactionRow.status == TransactionStatus.ACTIVE.value)
    )
    if only is not None:
        query = query.where(TransactionRow.id.in_(list(only)))
    return [ActiveTransaction._make(row) for row in (await tx.execute(query)).all()]


# -- transactions, in a write or read committed ------------------------------------------


async def transaction_by_id(on: WriteTx | Database, transaction_id: int) -> Transaction | None:
    row = await _first(on, select(TransactionRow).where(TransactionRow.id == transaction_id))
    return Transaction.model_validate(row) if row is not None else None


async def latest_by_charger_id(
    on: WriteTx | Database, station_id: str, charger_transaction_id: str
) -> Transaction | None:
    """The station's newest transaction of that charger's id (an orphan keeps the id of a
    1.6 charger's stop, which we may hand out again)."""
    row = await _first(
        on,
        select(TransactionRow)
        .where(TransactionRow.station_id == station_id)
        .where(TransactionRow.charger_transaction_id == charger_transaction_id)
        .order_by(TransactionRow.id.desc()),
    )
    return Transaction.model_validate(row) if row is not None else None


# -- transactions, read committed --------------------------------------------------------


async def find_transactions(
    db: Database,
    *,
    station_id: str | None,
    status: TransactionStatus | None,
    started_from: datetime | None,
    started_to: datetime | None,
    offset: int,
    limit: int,
) -> list[Transaction]:
    """A page of transactions, the newest first; a filter left None does not filter."""
    statement = select(TransactionRow).order_by(TransactionRow.id.desc())
    if station_id is not None:
        statement = statement.where(TransactionRow.station_id == station_id)
    if status is not None:
        statement = statement.where(TransactionRow.status == status.value)
    if started_from is not None:
        statement = statement.where(TransactionRow.started_at >= started_from)
    if started_to is not None:
        statement = statement.where(TransactionRow.started_at < started_to)
    statement = statement.offset(offset).limit(limit)
    return [Transaction.model_validate(row) for row in await db.fetch_all(statement)]


# -- meter values --------------------------------------------------------------------------


def defer_samples(
    tx: WriteTx,
    station_id: str,
    evse_id: int,
    connector_id: int,
    transaction_id: int | None,
    samples: Sequence[SampledValue],
    received_at: datetime,
    *,
    after_stop: bool,
) -> None:
    """Store ``samples`` with the batch's bulk insert; a sample already stored is skipped."""
    # Each row in the order of METER_VALUE_COLUMNS.
    tx.insert_later(
        _insert_meter_value,
        [
            (station_id, evse_id, connector_id, transaction_id, received_at, after_stop, *sample)
            for sample in samples
        ],
    )


def defer_meter_advance(tx: WriteTx, transaction_id: int, wh: Decimal, at: datetime) -> None:
    """Make ``wh`` an active transaction's last reading, unless it has a newer one."""
    tx.defer(_advance_meter, {"b_id": transaction_id, "b_wh": wh, "b_at": at})


async def meter_values(db: Database, transaction_id: int) -> list[MeterValue]:
    """A transaction's meter values, in the order they were sampled."""
    rows = await db.fetch_all(
        select(MeterValueRow)
        .where(MeterValueRow.transaction_id == transaction_id)
        .order_by(MeterValueRow.sampled_at, MeterValueRow.id)
    )
    return [MeterValue.model_validate(row) for row in rows]


# -- remote starts -------------------------------------------------------------------------


async def keep_remote_start(
    tx: WriteTx, station_id: str, remote_start_id: int, id_token: str, created_at: datetime
) -> None:
    """Keep the token of a remote start by its id, replacing what that id had."""
    key = (RemoteStartRow.station_id == station_id) & (
        RemoteStartRow.remote_start_id == remote_start_id
    )
    await tx.execute(delete(RemoteStartRow).where(key))
    await tx.execute(
        insert(RemoteStartRow).values(
            station_id=station_id,
            remote_start_id=remote_start_id,
            id_token=id_token,
            created_at=created_at,
        )
    )


async def remote_start_token(tx: WriteTx, station_id: str, remote_start_id: int) -> str | None:
    """The token we sent with the remote start ``remote_start_id``, if we sent it."""
    token: str | None = (
        await tx.execute(
            select(RemoteStartRow.id_token).where(
                RemoteStartRow.station_id == station_id,
                RemoteStartRow.remote_start_id == remote_start_id,
            )
        )
    ).scalar_one_or_none()
    return token


async def _first(on: WriteTx | Database, statement: Executable) -> Row[Any] | None:
    """The first row of ``statement``: in the write ``on`` is, or read committed."""
    if isinstance(on, Database):
        row: Row[Any] | None = await on.fetch_one(statement)
        return row
    return (await on.execute(statement)).first()


def _matches(column: Any, value: Any) -> Any:
    """``column = value``, where a missing value matches only a missing value."""
    return column.is_(None) if value is None else column == value

"""The journal of OCPP 2.0.1 TransactionEvents: the statements
:mod:`cpo_backend.domain.txevents` runs on the table ``transaction_events``, and the read
of a transaction's journal.

The journal's identity (station, charger transaction id, seqNo, event type, timestamp)
makes a replay's insert a no-op; the service decides what an event means for its
transaction (:mod:`cpo_backend.db.transaction_store` stores that).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from operator import attrgetter
from typing import NamedTuple

from sqlalchemy import select

from cpo_backend.db.bulk import BulkInsert
from cpo_backend.db.database import Database
from cpo_backend.db.tables import TransactionEventRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.model import TransactionEvent, TransactionEventReport

# A journal row is the event as reported, but for its samples (stored as meter values),
# then our transaction id and when it came: the report's fields are its one definition.
JOURNALED_FIELDS = tuple(f.name for f in fields(TransactionEventReport) if f.name != "samples")
JOURNAL_COLUMNS = (*JOURNALED_FIELDS, "transaction_id", "received_at")
_journaled = attrgetter(*JOURNALED_FIELDS)
_journal_insert = BulkInsert(
    TransactionEventRow.__table__,  # type: ignore[arg-type]
    list(JOURNAL_COLUMNS),
    # A replay racing its original (a reconnect overlapping the old socket) loses.
    skip_duplicates=True,
)


class JournaledEvent(NamedTuple):
    """What a journal row tells of an event's identity and of the charging state."""

    seq_no: int
    event_type: str
    charging_state: str | None
    timestamp: datetime


def defer_journal_entry(
    tx: WriteTx, event: TransactionEventReport, transaction_id: int | None, received_at: datetime
) -> None:
    """Journal ``event`` with the batch's bulk insert; an event journaled already is skipped."""
    tx.insert_later(_journal_insert, [(*_journaled(event), transaction_id, received_at)])


async def journaled_events(
    db: Database, station_id: str, charger_transaction_id: str
) -> list[JournaledEvent]:
    """The journaled events of one transaction, by the charger's id, in no particular order."""
    rows = await db.fetch_all(
        select(
            TransactionEventRow.seq_no,
            TransactionEventRow.event_type,
            TransactionEventRow.charging_state,
            TransactionEventRow.timestamp,
        )
        .where(TransactionEventRow.station_id == station_id)
        .where(TransactionEventRow.charger_transaction_id == charger_transaction_id)
    )
    return [JournaledEvent._make(row) for row in rows]


async def journal(db: Database, transaction_id: int) -> list[TransactionEvent]:
    """A transaction's journaled events, in seqNo order."""
    rows = await db.fetch_all(
        select(TransactionEventRow)
        .where(TransactionEventRow.transaction_id == transaction_id)
        .order_by(TransactionEventRow.seq_no)
    )
    return [TransactionEvent.model_validate(row) for row in rows]

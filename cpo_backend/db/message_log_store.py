"""The stored message log: the statements :mod:`cpo_backend.domain.messagelog` runs.

The service decides when frames are written and how old a kept one may be; this module
knows the table ``ocpp_messages`` and answers in the domain's records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, true

from cpo_backend.db.bulk import BulkInsert
from cpo_backend.db.database import Database
from cpo_backend.db.tables import MessageLogRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.model import Frame, MessageLogEntry

# A stored frame is the frame, then when it was logged.
_insert = BulkInsert(
    MessageLogRow.__table__,  # type: ignore[arg-type]
    [*Frame._fields, "logged_at"],
)


class MessageLogStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def entries(
        self, station_id: str, *, before_id: int | None, limit: int
    ) -> list[MessageLogEntry]:
        """The station's latest ``limit`` frames older than ``before_id``, the newest first."""
        query = (
            select(MessageLogRow)
            .where(MessageLogRow.station_id == station_id)
            .order_by(MessageLogRow.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(MessageLogRow.id < before_id)
        return [MessageLogEntry.model_validate(row) for row in await self._db.fetch_all(query)]

    async def first_id_since(self, logged_at: datetime) -> int | None:
        """The id of the oldest frame logged at or after ``logged_at``; None when every
        frame is older."""
        row = await self._db.fetch_one(
            select(MessageLogRow.id)
            .where(MessageLogRow.logged_at >= logged_at)
            .order_by(MessageLogRow.id)
            .limit(1)
        )
        return row.id if row is not None else None

    def add_later(self, tx: WriteTx, frames: list[tuple[object, ...]]) -> None:
        """Insert frames, each a :class:`Frame` followed by when it was logged, in one bulk
        insert at the end of the batch."""
        tx.insert_later(_insert, frames)

    async def remove_oldest(self, tx: WriteTx, before_id: int | None, limit: int) -> int:
        """Delete the oldest ``limit`` frames with an id below ``before_id`` (any id when
        None); return how many went."""
        too_old = MessageLogRow.id < before_id if before_id is not None else true()
        oldest = select(MessageLogRow.id).where(too_old).order_by(MessageLogRow.id).limit(limit)
        result = await tx.execute(
            delete(MessageLogRow).where(MessageLogRow.id.in_(oldest.scalar_subquery()))
        )
        return result.rowcount

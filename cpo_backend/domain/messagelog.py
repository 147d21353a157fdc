"""The per-station OCPP message log: every frame, kept for the operator.

Frames are buffered and written by the group-commit writer in one deferred batch, so
logging costs no transaction of its own. Nothing is promised to a charger about the log,
so a crash may lose its last few hundred milliseconds; the domain data never. A frame is
kept as the OCPP adapter hands it over: what must not be kept (the drivers' tokens, when
the operator says so) is the adapter's to leave out, as only it knows the protocols.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import delete, select, true

from cpo_backend.db.bulk import BulkInsert
from cpo_backend.db.database import Database
from cpo_backend.db.tables import MessageLogRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.model import MessageLogEntry
from cpo_backend.domain.time import utc_now


class Frame(NamedTuple):
    """One frame in or out (``direction``), as the log keeps it: its OCPP message type
    (None for one we could not decode), action and message id when known, and its text."""

    station_id: str
    direction: str
    message_type: int | None
    action: str | None
    unique_id: str | None
    payload: str


# A stored frame is the frame, then when it was logged.
_insert = BulkInsert(
    MessageLogRow.__table__,  # type: ignore[arg-type]
    [*Frame._fields, "logged_at"],
)


class MessageLog:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._buffer: list[tuple[object, ...]] = []

    def record(self, frame: Frame) -> None:
        if not self._buffer:
            self._db.write_soon(self._flush)
        self._buffer.append((*frame, utc_now()))

    async def _flush(self, tx: WriteTx) -> None:
        rows, self._buffer = self._buffer, []
        tx.insert_later(_insert, rows)

    async def purge(self, older_than: timedelta, *, chunk: int = 10_000) -> int:
        """Delete frames logged before ``now - older_than``; return how many went.

        Ids grow with time, so the cut is the first id young enough to keep, found by
        walking the primary key from the oldest row; deletes go in chunks so that no
        single transaction holds the writer for long.
        """
        cutoff = utc_now() - older_than
        first_kept = await self._db.fetch_one(
            select(MessageLogRow.id)
            .where(MessageLogRow.logged_at >= cutoff)
            .order_by(MessageLogRow.id)
            .limit(1)
        )
        # No row young enough to keep: every row is old.
        too_old = MessageLogRow.id < first_kept.id if first_kept is not None else true()
        oldest = select(MessageLogRow.id).where(too_old).order_by(MessageLogRow.id).limit(chunk)

        async def delete_chunk(tx: WriteTx) -> int:
            result = await tx.execute(
                delete(MessageLogRow).where(MessageLogRow.id.in_(oldest.scalar_subquery()))
            )
            return result.rowcount

        removed = 0
        while True:
            deleted = await self._db.write(delete_chunk)
            removed += deleted
            if deleted < chunk:
                return removed

    async def run_retention(self, days: int, interval: float = 3600.0) -> None:
        while True:
            await self.purge(timedelta(days=days))
            await asyncio.sleep(interval)

    async def entries(
        self, station_id: str, *, before_id: int | None = None, limit: int = 100
    ) -> list[MessageLogEntry]:
        query = (
            select(MessageLogRow)
            .where(MessageLogRow.station_id == station_id)
            .order_by(MessageLogRow.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(MessageLogRow.id < before_id)
        return [MessageLogEntry.model_validate(row) for row in await self._db.fetch_all(query)]

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

from cpo_backend.db.database import Database
from cpo_backend.db.message_log_store import MessageLogStore
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.model import Frame as Frame  # re-exported
from cpo_backend.domain.model import MessageLogEntry
from cpo_backend.domain.time import utc_now


class MessageLog:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._store = MessageLogStore(db)
        self._buffer: list[tuple[object, ...]] = []

    def record(self, frame: Frame) -> None:
        if not self._buffer:
            self._db.write_soon(self._flush)
        self._buffer.append((*frame, utc_now()))

    async def _flush(self, tx: WriteTx) -> None:
        rows, self._buffer = self._buffer, []
        self._store.add_later(tx, rows)

    async def purge(self, older_than: timedelta, *, chunk: int = 10_000) -> int:
        """Delete frames logged before ``now - older_than``; return how many went.

        Ids grow with time, so the cut is the first id young enough to keep, found by
        walking the primary key from the oldest row; deletes go in chunks so that no
        single transaction holds the writer for long.
        """
        # None when no row is young enough to keep: every row is old.
        first_kept = await self._store.first_id_since(utc_now() - older_than)

        async def delete_chunk(tx: WriteTx) -> int:
            return await self._store.remove_oldest(tx, first_kept, chunk)

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
        return await self._store.entries(station_id, before_id=before_id, limit=limit)

"""Projectors: consumers of the durable event log, each at its own persisted checkpoint.

A projector turns domain facts into what follows from them (an OCPI Session, an EVSE
status, an outbox row). It runs *after* the fact's commit, never inside the charger's
write transaction: a bug or a slow query in a projector cannot refuse, delay or roll
back what a charger sent. Exactly once comes from the checkpoint: what a projector writes
for an event and the advance of its checkpoint past that event are one commit, so a
crash leaves either both or neither, and a restart continues with the first event not
applied.

An event that keeps failing is retried with backoff, then recorded in
``projector_failures`` with its error and skipped, so that one poisoned event does not
stop every later one. Setting a checkpoint back (``cpo-backend ocpi replay``) rebuilds a
projector from the log: its handlers are written to tolerate seeing an event again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog
from sqlalchemy import Insert, select

from cpo_backend.db.database import Database
from cpo_backend.db.tables import DomainEventRow, ProjectorCheckpointRow, ProjectorFailureRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.background import WakeableLoop
from cpo_backend.domain.events import DomainEvent, UnknownEvent, decode
from cpo_backend.domain.time import utc_now

T = TypeVar("T")

log = structlog.get_logger(__name__)

# Events read per round: enough to skip uninteresting ones cheaply, few enough to stay
# responsive to a wake-up.
_PAGE = 500
# Events prepared at once: their reads overlap instead of queueing one after the other
# (a Session's start reads the token, its owner, the EVSE, the tariff and the location).
_CONCURRENT_PREPARES = 16
# Tries of one event before it is recorded as failed and skipped.
MAX_ATTEMPTS = 5
_FIRST_RETRY_SECONDS = 0.05


ProjectionWrite = Callable[[WriteTx], Awaitable[None]]


class Projector(Protocol):
    """What a projector provides: a name (its checkpoint's key) and a handler."""

    name: str

    async def prepare(self, event: DomainEvent) -> ProjectionWrite | None:
        """What to write for ``event`` (None: nothing). Reads and computation happen
        here, outside the writer; the returned operation runs in one commit with the
        checkpoint's advance past the event."""
        ...

    def ordering_key(self, event: DomainEvent) -> Hashable | None:
        """What ``event``'s preparation reads that an earlier event's write may change
        (a transaction id, say): it is prepared only once the writes of the earlier
        events of that key are committed. None: it reads nothing such."""
        ...


class HandlerProjector:
    """A projector whose every write is one handler called in the writer with the event:
    for reactions that only read and write the database (no pricing, no network)."""

    def __init__(
        self,
        name: str,
        kinds: tuple[type[DomainEvent], ...],
        handler: Callable[[WriteTx, DomainEvent], Awaitable[None]],
    ) -> None:
        self.name = name
        self._kinds = kinds
        self._handler = handler

    async def prepare(self, event: DomainEvent) -> ProjectionWrite | None:
        if not isinstance(event, self._kinds):
            return None
        handler = self._handler
        return lambda tx: handler(tx, event)

    def ordering_key(self, event: DomainEvent) -> Hashable | None:
        return None  # it reads only inside the writer, after the earlier writes


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    id: int
    event: DomainEvent


async def read_log(db: Database, after: int, limit: int) -> list[LoggedEvent]:
    """Events after id ``after``, oldest first; rows of unknown types are logged and left
    out (a newer node wrote them)."""
    rows = await db.fetch_all(
        select(DomainEventRow)
        .where(DomainEventRow.id > after)
        .order_by(DomainEventRow.id)
        .limit(limit)
    )
    found = []
    for row in rows:
        try:
            found.append(LoggedEvent(row.id, decode(row.type, row.version, row.payload)))
        except UnknownEvent:
            log.warning("event of an unknown type in the log", event_id=row.id, type=row.type)
    if rows and (not found or found[-1].id != rows[-1].id):
        # Keep the position of a trailing unknown row, so that it is not read forever.
        found.append(LoggedEvent(rows[-1].id, DomainEvent("", utc_now())))
    return found


async def checkpoint_of(db: Database, name: str) -> int:
    row = await db.fetch_one(
        select(ProjectorCheckpointRow.event_id).where(ProjectorCheckpointRow.name == name)
    )
    return int(row.event_id) if row is not None else 0


async def set_checkpoint(db: Database, name: str, event_id: int) -> None:
    """Move projector ``name`` to ``event_id`` (back, to replay what follows)."""

    async def op(tx: WriteTx) -> None:
        _advance(db, tx, name, event_id)

    await db.write(op)


_advances: dict[str, Insert] = {}


def _advance(db: Database, tx: WriteTx, name: str, event_id: int) -> None:
    # Deferred, and one statement object per dialect: the checkpoints of every projector
    # in a batch are one executemany.
    statement = _advances.get(db.dialect)
    if statement is None:
        statement = _advances[db.dialect] = db.upsert(
            ProjectorCheckpointRow.__table__, ["name"], ["event_id", "updated_at"]
        )
    tx.defer(statement, {"name": name, "event_id": event_id, "updated_at": utc_now()})


class ProjectorRunner:
    """Feeds one projector the log in order; woken after commits, else polls."""

    def __init__(
        self,
        db: Database,
        projector: Projector,
        poll: float,
        after_write: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._projector = projector
        self._after_write = after_write
        self._position: int | None = None
        self._loop = WakeableLoop(f"projector-{projector.name}", self.run_round, poll)

    @property
    def name(self) -> str:
        return self._projector.name

    def notify(self, _event: DomainEvent) -> None:
        """Post-commit listener: new events are in the log."""
        self._loop.wake()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def run_round(self) -> bool:
        """Apply the next page of events; True when more may be waiting.

        The writes of a page share one commit with the checkpoint's advance: a commit
        costs a disk flush, and one per event capped a projector at a few dozen events a
        second. An event whose preparation depends on an earlier write of the page (the
        same ``ordering_key``) first has the writes so far committed; the events between
        two such cuts are prepared concurrently.
        """
        if self._position is None:
            self._position = await checkpoint_of(self._db, self.name)
        page = await read_log(self._db, self._position, _PAGE)
        if not page:
            return False
        wrote = False
        for segment in self._segments(page):
            writes = await self._prepared_all(segment)
            batch = [
                (logged, write) for logged, write in zip(segment, writes, strict=True) if write
            ]
            await self._commit(batch, segment[-1].id)
            wrote = wrote or bool(batch)
        self._position = page[-1].id
        if wrote and self._after_write is not None:
            self._after_write()
        return len(page) == _PAGE

    def _segments(self, page: list[LoggedEvent]) -> Iterator[list[LoggedEvent]]:
        """The page cut before each event whose ordering key an earlier event of its
        segment has: the events of a segment can be prepared at once."""
        segment: list[LoggedEvent] = []
        keys: set[Hashable] = set()
        for logged in page:
            key = self._projector.ordering_key(logged.event)
            if key is not None and key in keys:
                yield segment
                segment, keys = [], set()
            segment.append(logged)
            if key is not None:
                keys.add(key)
        yield segment

    async def _prepared_all(self, segment: list[LoggedEvent]) -> list[ProjectionWrite | None]:
        """The writes of a segment's events, prepared concurrently (no two of them read
        what the other writes), in the segment's order."""
        limit = asyncio.Semaphore(_CONCURRENT_PREPARES)

        async def prepared(logged: LoggedEvent) -> ProjectionWrite | None:
            async with limit:
                return await self._prepared(logged)

        return list(await asyncio.gather(*(prepared(logged) for logged in segment)))

    async def _commit(self, batch: list[tuple[LoggedEvent, ProjectionWrite]], upto: int) -> None:
        """The writes of ``batch`` and the checkpoint at ``upto``, in one commit; if that
        fails, each write on its own (retried, and at last recorded as failed)."""
        name = self.name

        async def op(tx: WriteTx) -> None:
            for _logged, write in batch:
                await write(tx)
            _advance(self._db, tx, name, upto)

        try:
            await self._db.write(op)
        except Exception:
            if not batch:
                raise
            log.warning("projector batch failed, applying its events one by one", projector=name)
            for logged, write in batch:
                await self._apply(logged, write)
            await set_checkpoint(self._db, name, upto)

    async def _prepared(self, logged: LoggedEvent) -> ProjectionWrite | None:
        if type(logged.event) is DomainEvent:
            return None  # the placeholder of an unknown row
        return await self._retrying(logged, lambda: self._projector.prepare(logged.event))

    async def _apply(self, logged: LoggedEvent, write: ProjectionWrite) -> None:
        name = self.name

        async def op(tx: WriteTx) -> None:
            await write(tx)
            _advance(self._db, tx, name, logged.id)

        async def attempt() -> None:
            await self._db.write(op)

        await self._retrying(logged, attempt)

    async def _retrying(self, logged: LoggedEvent, attempt: Callable[[], Awaitable[T]]) -> T | None:
        delay = _FIRST_RETRY_SECONDS
        for tries in range(1, MAX_ATTEMPTS + 1):
            try:
                return await attempt()
            except Exception as error:
                if tries == MAX_ATTEMPTS:
                    await self._record_failure(logged, error)
                    return None
                log.warning(
                    "projector failed, retrying",
                    projector=self.name,
                    event_id=logged.id,
                    event_type=type(logged.event).__name__,
                    error=repr(error),
                )
                await asyncio.sleep(delay)
                delay *= 4
        return None

    async def _record_failure(self, logged: LoggedEvent, error: Exception) -> None:
        log.error(
            "projector skips an event it cannot apply",
            projector=self.name,
            event_id=logged.id,
            event_type=type(logged.event).__name__,
            error=repr(error),
        )
        name = self.name

        async def op(tx: WriteTx) -> None:
            statement = self._db.upsert(
                ProjectorFailureRow.__table__, ["projector", "event_id"], ["error", "failed_at"]
            )
            await tx.execute(
                statement,
                {
                    "projector": name,
                    "event_id": logged.id,
                    "error": repr(error),
                    "failed_at": utc_now(),
                },
            )
            _advance(self._db, tx, name, logged.id)

        await self._db.write(op)

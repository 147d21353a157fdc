"""Group commit: many small writes, one database transaction.

A charger's message may only be answered once what it told us is committed. Committing
each message on its own caps a node at a few hundred messages per second (one fsync
each); this writer queues the write operations of all connections, runs a batch of them
in one transaction, commits once and then wakes every waiting caller. Callers still see
"committed before answered", at the cost of at most one batch of latency.

Operations are ``async def op(tx: WriteTx) -> T``. Plain inserts and updates that need
no answer are *deferred* with :meth:`WriteTx.defer` and sent as one ``executemany`` per
statement at the end of the batch; an operation that executes a statement immediately
first flushes what earlier operations deferred, so it always reads its predecessors'
writes. Work that many operations of a batch share (re-deriving the statuses of the
stations they touched, one query of the partners to push to) is *gathered* with
:meth:`WriteTx.gather` and done once, after the batch's operations and before its commit:
every immediate statement is a round trip through the event loop, and a batch that ran
the same reads once per operation spent most of its time waiting for its turn. If a batch
fails, each of its operations is retried in a transaction of its own, so one bad
operation fails alone and the others still commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog
from prometheus_client import CollectorRegistry, Histogram
from sqlalchemy import Executable
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection

from cpo_backend.db.bulk import BulkInsert
from cpo_backend.db.sqlite_local import LoopConnection
from cpo_backend.db.tables import DomainEventRow
from cpo_backend.domain.events import DomainEvent, EventBus, encode

T = TypeVar("T")
Item = TypeVar("Item")
GatheredStep = Callable[["WriteTx", list[Any]], Awaitable[None]]
# A write transaction: SQLAlchemy's asynchronous one, or on SQLite a synchronous
# connection whose statements run on the loop (see cpo_backend.db.sqlite_local).
WriteConnection = AsyncConnection | LoopConnection
Transactions = Callable[[], AbstractAsyncContextManager[WriteConnection]]

log = structlog.get_logger(__name__)

_append_event = BulkInsert(
    DomainEventRow.__table__,  # type: ignore[arg-type]
    ["type", "version", "station_id", "occurred_at", "payload"],
)


def _log_row(event: DomainEvent) -> tuple[Any, ...]:
    kind, version, payload = encode(event)
    return (kind, version, event.station_id, event.at, payload)


class WriteTx:
    """What an operation gets: immediate and deferred statements, and event emission."""

    def __init__(self, conn: WriteConnection) -> None:
        self._conn = conn
        self._deferred: dict[Executable, list[dict[str, Any]]] = {}
        self._bulk: dict[BulkInsert, list[tuple[Any, ...]]] = {}
        self._gathered: dict[GatheredStep, list[Any]] = {}
        self.events: list[DomainEvent] = []

    @property
    def dialect(self) -> str:
        return self._conn.dialect.name

    async def execute(
        self, statement: Executable, params: Sequence[dict[str, Any]] | dict[str, Any] | None = None
    ) -> CursorResult[Any]:
        await self.flush()
        return await self._conn.execute(statement, params)

    def defer(self, statement: Executable, params: dict[str, Any]) -> None:
        """Queue a statement whose result nobody needs; the same statement object batches."""
        self._deferred.setdefault(statement, []).append(params)

    def insert_later(self, bulk: BulkInsert, rows: list[tuple[Any, ...]]) -> None:
        """Queue rows (values in ``bulk.columns`` order) for one bulk insert per batch."""
        if rows:
            self._bulk.setdefault(bulk, []).extend(rows)

    def gather(self, step: Callable[[WriteTx, list[Item]], Awaitable[None]], item: Item) -> None:
        """Hand ``item`` to ``step``, which runs once before the commit with every item
        gathered for it in this transaction, in the order they came. ``step`` is the key:
        pass the same function (or bound method) each time."""
        self._gathered.setdefault(step, []).append(item)

    async def run_gathered(self) -> None:
        """Run the gathered steps (and what they gather in turn) before the commit."""
        while self._gathered:
            pending, self._gathered = self._gathered, {}
            for step, items in pending.items():
                await step(self, items)

    def emit(self, event: DomainEvent) -> None:
        """Append ``event`` to the event log in this transaction; listeners hear of it
        once the transaction has committed."""
        self.events.append(event)

    async def flush(self) -> None:
        while self._deferred or self._bulk:
            pending, self._deferred = self._deferred, {}
            for statement, params in pending.items():
                await self._conn.execute(statement, params)
            bulk, self._bulk = self._bulk, {}
            dialect = self._conn.dialect
            for insert, rows in bulk.items():
                await self._conn.exec_driver_sql(insert.sql(dialect), insert.rows(dialect, rows))


@dataclass
class _Job(Generic[T]):
    op: Callable[[WriteTx], Awaitable[T]]
    future: asyncio.Future[T] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommitWriter:
    """The single writer of one process: see the module docstring."""

    def __init__(
        self,
        transactions: Transactions,
        events: EventBus,
        metrics: CollectorRegistry,
        *,
        max_batch: int = 500,
    ) -> None:
        self._transactions = transactions
        self._events = events
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Job[Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._batch_size = Histogram(
            "db_write_batch_operations",
            "Operations committed together by the group-commit writer",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=metrics,
        )
        self._batch_seconds = Histogram(
            "db_write_batch_seconds",
            "Time from the start of a batch to its commit",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
            registry=metrics,
        )

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit-writer")

    async def stop(self) -> None:
        """Finish every operation already queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def run(self, op: Callable[[WriteTx], Awaitable[T]]) -> T:
        """Run ``op`` in the next batch and return its result once it is committed."""
        if self._task is None:
            raise RuntimeError("the writer is not running")
        job: _Job[T] = _Job(op)
        self._queue.put_nowait(job)
        return await job.future

    def submit(self, op: Callable[[WriteTx], Awaitable[Any]]) -> None:
        """Queue ``op`` for the next batch without waiting; a failure is only logged."""
        if self._task is None:
            raise RuntimeError("the writer is not running")
        job: _Job[Any] = _Job(op)
        job.future.add_done_callback(_log_failure)
        self._queue.put_nowait(job)

    async def _run(self) -> None:
        while True:
            jobs = [await self._queue.get()]
            # Whatever queued up while the previous batch committed joins this one.
            while len(jobs) < self._max_batch and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            try:
                await self._commit_batch(jobs)
            finally:
                for _ in jobs:
                    self._queue.task_done()

    async def _commit_batch(self, jobs: list[_Job[Any]]) -> None:
        started = time.perf_counter()
        try:
            results, events = await self._attempt(jobs)
        except Exception as error:
            if len(jobs) == 1:
                log.exception("write failed")
                if not jobs[0].future.done():
                    jobs[0].future.set_exception(error)
                return
            log.warning("batch failed, retrying its operations one by one", size=len(jobs))
            for job in jobs:
                await self._commit_batch([job])
            return
        self._batch_size.observe(len(jobs))
        self._batch_seconds.observe(time.perf_counter() - started)
        for job, result in zip(jobs, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)
        self._events.publish(events)

    async def _attempt(self, jobs: list[_Job[Any]]) -> tuple[list[Any], list[DomainEvent]]:
        async with self._transactions() as conn:
            tx = WriteTx(conn)
            results = [await job.op(tx) for job in jobs]
            await tx.run_gathered()
            # The facts' events join the durable log in the same commit as the facts.
            tx.insert_later(_append_event, [_log_row(event) for event in tx.events])
            await tx.flush()
        return results, tx.events


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("queued write failed", error=repr(future.exception()))

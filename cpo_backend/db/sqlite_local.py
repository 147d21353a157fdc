"""SQLite as an embedded database: statements run on the event loop, not a driver thread.

Through aiosqlite every statement is four round trips between the event loop and the
driver's thread (cursor, execute, fetch, close), and under load each round trip waits for
a turn of a busy loop: a group-commit batch of twenty operations took about 100 ms,
nearly all of it waiting, and a projector's reads as long. A statement on a local SQLite
file takes microseconds, far less than one round trip, so reads and writes run on
synchronous connections on the loop itself, and so does the commit with its fsync of the
WAL (a fraction of a millisecond on a local disk, where even the two round trips of a
commit through a thread cost 10 to 30 ms under load). A thread of the writer's own takes
what can wait:

- the write lock, when another process holds it (a CLI command): ``BEGIN IMMEDIATE`` is
  tried on the loop without waiting, and waits in the thread only when it must;
- the commits, while they are slow (a disk whose fsync takes milliseconds), so that the
  loop is not held by the disk;
- checkpoints, which copy the WAL into the database file (several fsyncs): the writer's
  connection does none as part of a commit on the loop, as SQLite would; the writer does
  one in the thread after a commit at most every ``checkpoint_interval`` seconds.

WAL mode means readers never wait for the writer.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, CursorResult, Dialect, Engine, Executable, create_engine, event
from sqlalchemy.engine import make_url

from cpo_backend.db.engine import LOCK_WAIT_MS, configure_sqlite


class LoopConnection:
    """A synchronous connection behind the asynchronous methods the rest of the code
    awaits (those of SQLAlchemy's ``AsyncConnection`` that readers and the writer use)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def dialect(self) -> Dialect:
        return self._conn.dialect

    async def execute(
        self, statement: Executable, params: Sequence[dict[str, Any]] | dict[str, Any] | None = None
    ) -> CursorResult[Any]:
        return self._conn.execute(statement, params)

    async def exec_driver_sql(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        self._conn.exec_driver_sql(sql, params)


class LocalSqlite:
    """Reads and write transactions on the SQLite file of ``url``."""

    # A commit slower than this (moving average) holds the loop too long: commits go to
    # the thread until they are fast again.
    SLOW_COMMIT = 0.004

    def __init__(self, url: str, *, echo: bool = False, checkpoint_interval: float = 1.0) -> None:
        # Unbounded: a read block may await other reads (nested, or many concurrent
        # coroutines), and a pool that made the loop's thread wait for a connection would
        # wait for ever, since only that thread can give one back. A new SQLite
        # connection costs a file open.
        self._reads = _engine(url, echo=echo, pool_size=5, max_overflow=-1)
        event.listen(self._reads, "connect", configure_sqlite)
        self._writes = _engine(url, echo=echo, pool_size=1, max_overflow=0)
        event.listen(self._writes, "connect", _configure_writer)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._commit_seconds = 0.0
        self._checkpoint_interval = checkpoint_interval
        self._checkpoint_due = 0.0

    @asynccontextmanager
    async def read(self) -> AsyncIterator[LoopConnection]:
        with self._reads.connect() as conn:
            yield LoopConnection(conn)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[LoopConnection]:
        """A write transaction that commits when the block ends and rolls back if it
        raises. It holds the write lock from its start (``BEGIN IMMEDIATE``), so no
        statement run on the loop can wait for another process."""
        loop = asyncio.get_running_loop()
        conn = self._writes.connect()
        try:
            await self._lock(loop, _driver_connection(conn))
            # SQLAlchemy's own bookkeeping: the pysqlite dialect emits no BEGIN of its own.
            conn.begin()
            yield LoopConnection(conn)
        except BaseException:
            conn.rollback()
            conn.close()
            raise
        checkpoint = loop.time() >= self._checkpoint_due
        if checkpoint:
            self._checkpoint_due = loop.time() + self._checkpoint_interval
        if checkpoint or self.committing_in_thread:
            await loop.run_in_executor(self._thread, self._commit, conn, checkpoint)
        else:
            self._commit(conn, False)

    @property
    def committing_in_thread(self) -> bool:
        """Whether commits are slow enough to run in the writer's thread."""
        return self._commit_seconds > self.SLOW_COMMIT

    async def _lock(self, loop: asyncio.AbstractEventLoop, driver: sqlite3.Connection) -> None:
        try:
            driver.execute("BEGIN IMMEDIATE")  # (busy_timeout 0: fails at once if taken)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
            await loop.run_in_executor(self._thread, _wait_for_lock, driver)

    def _commit(self, conn: Connection, checkpoint: bool) -> None:
        """Commit; then, if asked, copy the WAL into the database file before the writer's
        next transaction. Done by the writer between its transactions, as SQLite's own
        automatic checkpoint is: a checkpoint running beside a writer that never pauses
        never catches up, and the WAL, restarted only once all of it is copied, would
        grow without end."""
        started = time.perf_counter()
        try:
            conn.commit()
            # Where the commits run follows the disk: a moving average over the last few.
            took = time.perf_counter() - started
            self._commit_seconds += (took - self._commit_seconds) / 8
            if checkpoint:
                # PASSIVE: copies what no reader still needs, never waits for one.
                _driver_connection(conn).execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    def close(self) -> None:
        self._thread.shutdown()
        self._writes.dispose()
        self._reads.dispose()


def _engine(url: str, *, echo: bool, pool_size: int, max_overflow: int) -> Engine:
    return create_engine(
        make_url(url).set(drivername="sqlite+pysqlite"),
        echo=echo,
        # The write connection is used on the loop's thread, and in the writer's thread
        # for what may wait, never by both at once.
        connect_args={"timeout": LOCK_WAIT_MS / 1000, "check_same_thread": False},
        pool_size=pool_size,
        max_overflow=max_overflow,
    )


def _driver_connection(conn: Connection) -> sqlite3.Connection:
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver


def _wait_for_lock(driver: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE`` that waits, as long as any connection would, for the write lock
    another process holds; run in the writer's thread."""
    driver.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
    try:
        driver.execute("BEGIN IMMEDIATE")
    finally:
        driver.execute("PRAGMA busy_timeout=0")


def _configure_writer(dbapi_connection: Any, record: Any) -> None:
    configure_sqlite(dbapi_connection, record)
    # The writer begins its transactions itself (``BEGIN IMMEDIATE``): the driver would
    # begin on its own before the first write only, so a batch's reads could see an older
    # snapshot than its writes.
    dbapi_connection.isolation_level = None
    # Taking the lock never waits on the loop (see ``_wait_for_lock``), and commits do
    # not checkpoint (see ``LocalSqlite._commit``).
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

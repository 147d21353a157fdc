"""SQLite as an embedded database: statements run on the event loop, not a driver thread.

Through aiosqlite every statement is four round trips between the event loop and the
driver's thread (cursor, execute, fetch, close), and under load each round trip waits for
a turn of a busy loop: a group-commit batch of twenty operations took about 100 ms,
nearly all of it waiting, and a projector's reads as long. A statement on a local SQLite
file takes microseconds, far less than one round trip, so reads and writes run on
synchronous connections on the loop itself. Only what may wait goes to a thread of the
writer's own: taking the write lock (another process may hold it) and the commit with its
fsync. WAL mode means readers never wait for the writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, CursorResult, Dialect, Engine, Executable, create_engine, event
from sqlalchemy.engine import make_url

from cpo_backend.db.engine import configure_sqlite


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

    def __init__(self, url: str, *, echo: bool = False) -> None:
        # Unbounded: a read block may await other reads (nested, or many concurrent
        # coroutines), and a pool that made the loop's thread wait for a connection would
        # wait for ever, since only that thread can give one back. A new SQLite
        # connection costs a file open.
        self._reads = _engine(url, echo=echo, pool_size=5, max_overflow=-1)
        event.listen(self._reads, "connect", configure_sqlite)
        self._writes = _engine(url, echo=echo, pool_size=1, max_overflow=0)
        event.listen(self._writes, "connect", _configure_writer)
        event.listen(self._writes, "begin", _begin_immediate)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[LoopConnection]:
        with self._reads.connect() as conn:
            yield LoopConnection(conn)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[LoopConnection]:
        """A write transaction that commits when the block ends and rolls back if it
        raises. It starts with ``BEGIN IMMEDIATE`` in the writer's thread: once the write
        lock is held, no statement run on the loop can wait for another process."""
        loop = asyncio.get_running_loop()
        conn = await loop.run_in_executor(self._thread, self._open)
        try:
            yield LoopConnection(conn)
        except BaseException:
            await loop.run_in_executor(self._thread, _close, conn, False)
            raise
        await loop.run_in_executor(self._thread, _close, conn, True)

    def _open(self) -> Connection:
        conn = self._writes.connect()
        conn.begin()
        return conn

    def close(self) -> None:
        self._thread.shutdown()
        self._writes.dispose()
        self._reads.dispose()


def _engine(url: str, *, echo: bool, pool_size: int, max_overflow: int) -> Engine:
    return create_engine(
        make_url(url).set(drivername="sqlite+pysqlite"),
        echo=echo,
        # A write connection is begun and committed in the writer's thread and used on
        # the loop's thread in between: never by two threads at once.
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=pool_size,
        max_overflow=max_overflow,
    )


def _close(conn: Connection, commit: bool) -> None:
    try:
        if commit:
            conn.commit()
        else:
            conn.rollback()
    finally:
        conn.close()


def _configure_writer(dbapi_connection: Any, record: Any) -> None:
    configure_sqlite(dbapi_connection, record)
    # The driver would begin on its own before the first write only, so a batch's reads
    # could see an older snapshot than its writes; the "begin" event begins instead
    # (SQLAlchemy's recipe for SQLite transactions).
    dbapi_connection.isolation_level = None


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")

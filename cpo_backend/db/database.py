"""The database as the domain sees it: a read side and the group-commit writer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import structlog
from prometheus_client import CollectorRegistry
from sqlalchemy import Executable, Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cpo_backend.db.engine import create_engine, is_sqlite
from cpo_backend.db.sqlite_local import LocalSqlite, LoopConnection
from cpo_backend.db.writer import GroupCommitWriter, Transactions, WriteTx
from cpo_backend.domain.events import EventBus

T = TypeVar("T")

log = structlog.get_logger(__name__)


class Database:
    """Owns the engine. Reads see committed data; writes go through :meth:`write`.

    PostgreSQL is reached through asyncpg; a SQLite file through synchronous connections
    on the event loop (:mod:`cpo_backend.db.sqlite_local` says why).
    """

    def __init__(
        self,
        url: str,
        events: EventBus,
        metrics: CollectorRegistry,
        *,
        max_batch: int = 500,
        echo: bool = False,
    ) -> None:
        self.url = url
        self._sqlite: LocalSqlite | None = None
        self._engine: AsyncEngine | None = None
        self._connect: Callable[[], AbstractAsyncContextManager[AsyncConnection | LoopConnection]]
        transactions: Transactions
        if is_sqlite(url):
            self._sqlite = LocalSqlite(url, echo=echo)
            self._connect, transactions = self._sqlite.read, self._sqlite.begin
            self.dialect = "sqlite"
        else:
            self._engine = create_engine(url, echo=echo)
            self._connect, transactions = self._engine.connect, self._engine.begin
            self.dialect = self._engine.dialect.name
        self.writer = GroupCommitWriter(transactions, events, metrics, max_batch=max_batch)

    async def start(self) -> None:
        await self.writer.start()

    async def close(self) -> None:
        await self.writer.stop()
        if self._sqlite is not None:
            self._sqlite.close()
        if self._engine is not None:
            await self._engine.dispose()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection | LoopConnection]:
        async with self._connect() as conn:
            yield conn

    async def write(self, op: Callable[[WriteTx], Awaitable[T]]) -> T:
        """Run ``op`` in the next group commit; return once it is durable."""
        return await self.writer.run(op)

    def write_soon(self, op: Callable[[WriteTx], Awaitable[Any]]) -> None:
        """Queue ``op`` without waiting: for records nothing is promised about (the message log)."""
        self.writer.submit(op)

    async def fetch_all(
        self, statement: Executable, params: dict[str, Any] | None = None
    ) -> list[Any]:
        async with self.read() as conn:
            return list((await conn.execute(statement, params)).all())

    async def fetch_one(self, statement: Executable) -> Any | None:
        async with self.read() as conn:
            return (await conn.execute(statement)).first()

    def upsert(self, table: Any, index_elements: list[str], update: list[str]) -> Insert:
        """``INSERT ... ON CONFLICT DO UPDATE`` for this dialect, usable with executemany."""
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = dialect_insert(table)
        return statement.on_conflict_do_update(
            index_elements=index_elements,
            set_={name: statement.excluded[name] for name in update},
        )

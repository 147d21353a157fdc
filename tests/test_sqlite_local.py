"""SQLite on the event loop (``cpo_backend/db/sqlite_local.py``) on a real file: the two
ways running statements on the loop's own thread could hang the whole back-end."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from cpo_backend.db.database import Database
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.events import EventBus


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[tuple[Database, Path]]:
    path = tmp_path / "local.db"
    with sqlite3.connect(path) as setup:
        # As the migrations leave it: WAL is a property of the file.
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    db = Database(f"sqlite+aiosqlite:///{path}", EventBus(), CollectorRegistry())
    await db.start()
    yield db, path
    await db.close()


async def _notes(db: Database) -> list[str]:
    rows = await db.fetch_all(text("SELECT body FROM note ORDER BY id"))
    return [row.body for row in rows]


async def test_many_reads_held_open_at_once_all_get_a_connection(
    database: tuple[Database, Path],
) -> None:
    """A read block may await other work (other reads among it) while it holds its
    connection. A bounded pool would make the loop's thread wait for a connection that only
    that thread can give back."""
    db, _ = database
    held = 40
    entered = 0
    all_in = asyncio.Event()

    async def reader() -> int:
        nonlocal entered
        async with db.read() as conn:
            entered += 1
            if entered == held:
                all_in.set()
            await all_in.wait()
            # A nested read while this one is held, as a projector's preparation does.
            inner = await db.fetch_one(text("SELECT count(*) AS n FROM note"))
            assert inner is not None
            return int((await conn.execute(text("SELECT 1 AS one"))).scalar_one()) + int(inner.n)

    assert await asyncio.gather(*(reader() for _ in range(held))) == [1] * held


async def test_a_write_lock_held_elsewhere_makes_the_writer_wait_not_the_loop(
    database: tuple[Database, Path],
) -> None:
    """Another process holding SQLite's write lock (a CLI command, say) delays the writer,
    whose ``BEGIN IMMEDIATE`` waits in its own thread; reads on the loop go on meanwhile,
    and the write commits once the lock is free."""
    db, path = database
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO note (body) VALUES ('from elsewhere')")

    async def op(tx: WriteTx) -> None:
        await tx.execute(text("INSERT INTO note (body) VALUES ('from the writer')"))

    write = asyncio.create_task(db.write(op))
    # The loop serves reads while the writer waits for the lock: neither row is visible.
    for _ in range(5):
        assert await _notes(db) == []
        await asyncio.sleep(0.01)
    assert not write.done()
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(write, 10)
    assert await _notes(db) == ["from elsewhere", "from the writer"]

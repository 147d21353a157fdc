"""SQLite on the event loop (``cpo_backend/db/sqlite_local.py``) on a real file: the two
ways running statements on the loop's own thread could hang the whole back-end, and what
the writer's thread does instead (waiting for the lock, slow commits, checkpoints)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from cpo_backend.db.database import Database
from cpo_backend.db.sqlite_local import LocalSqlite
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.events import EventBus


@pytest.fixture
def note_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as setup:
        # As the migrations leave it: WAL is a property of the file.
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    return path


@pytest.fixture
async def database(note_file: Path) -> AsyncIterator[tuple[Database, Path]]:
    db = Database(f"sqlite+aiosqlite:///{note_file}", EventBus(), CollectorRegistry())
    await db.start()
    yield db, note_file
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


async def _write_notes(sqlite: LocalSqlite, count: int) -> None:
    for n in range(count):
        async with sqlite.begin() as conn:
            await conn.execute(text("INSERT INTO note (body) VALUES (:b)"), {"b": f"{n:04}" * 1024})


async def test_checkpoints_keep_the_wal_from_growing(note_file: Path) -> None:
    """The writer's commits do not checkpoint (that would hold the loop for several
    fsyncs): checkpoints run in its thread instead, so the WAL is reused, not grown
    without end."""
    sqlite = LocalSqlite(f"sqlite:///{note_file}", checkpoint_interval=0.0)
    try:
        await _write_notes(sqlite, 300)  # 300 commits of a 4 KB row: 2.4 MB of WAL at least
        # (Measured while open: closing the last connection checkpoints and removes it.)
        assert note_file.with_name(note_file.name + "-wal").stat().st_size < 1_000_000
    finally:
        sqlite.close()
    with sqlite3.connect(note_file) as check:
        assert check.execute("SELECT count(*) FROM note").fetchone() == (300,)


async def test_slow_commits_go_to_the_writer_thread_and_still_commit(note_file: Path) -> None:
    """A disk whose fsync is slow must not hold the loop: commits then run in the
    writer's thread, and land all the same."""
    sqlite = LocalSqlite(f"sqlite:///{note_file}")
    sqlite.SLOW_COMMIT = -1.0  # every commit counts as slow
    try:
        await _write_notes(sqlite, 2)  # (commits measured: the moving average is slow)
        assert sqlite.committing_in_thread
        await _write_notes(sqlite, 3)
        async with sqlite.read() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM note"))).scalar_one() == 5
    finally:
        sqlite.close()

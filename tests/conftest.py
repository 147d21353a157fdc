"""Fixtures shared by all tests: a real back-end on real sockets and a real database.

Every test that asks for ``backend`` runs twice, on a fresh SQLite file and on
PostgreSQL (database ``test`` at 127.0.0.1:5432), unless PostgreSQL is unreachable, in
which case that half is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from cpo_backend.app import CpoBackend
from cpo_backend.config import Settings, load_settings

POSTGRES_URL = os.environ.get(
    "CPO_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _postgres_dsn() -> str:
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")


async def _reset_postgres() -> str | None:
    """Empty the test database; the reason it cannot be used, if it cannot."""
    try:
        connection = await asyncpg.connect(_postgres_dsn(), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {error}"
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'cpo.db'}"
    reason = await _reset_postgres()
    if reason is not None:
        if os.environ.get("CPO_TEST_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    return POSTGRES_URL


def make_settings(database_url: str, **sections: dict[str, object]) -> Settings:
    """Settings for a test back-end: loopback, ephemeral ports, quick timeouts."""
    overrides: dict[str, dict[str, object]] = {
        "database": {"url": database_url},
        "ocpp": {"host": "127.0.0.1", "port": 0, "response_timeout": 5.0},
        "http": {"host": "127.0.0.1", "port": 0},
        "logging": {"level": "WARNING"},
    }
    for section, values in sections.items():
        overrides.setdefault(section, {}).update(values)
    return load_settings(None, **overrides)


@pytest.fixture
async def backend(database_url: str) -> AsyncIterator[CpoBackend]:
    server = CpoBackend(make_settings(database_url))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def ocpp_url(backend: CpoBackend) -> str:
    return f"ws://127.0.0.1:{backend.ocpp_port}/ocpp"


@pytest.fixture
async def api(backend: CpoBackend) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{backend.http_port}", timeout=10
    ) as client:
        yield client


async def eventually(check: object, timeout: float = 5.0) -> None:
    """Wait until ``check()`` (sync or async) returns truthy; fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)

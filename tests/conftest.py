"""Fixtures shared by all tests: a real back-end on real sockets and a real database.

Every test that asks for ``backend`` runs twice, on a fresh SQLite file and on
PostgreSQL (reached through database ``test`` at 127.0.0.1:5432), unless PostgreSQL is
unreachable, in which case that half is skipped with the reason. Each test session works
in a database of its own, created beside ``test`` and dropped at the end, so that runs on
the same server (several checkouts, CI) never reset each other's tables.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from hypothesis import settings

from cpo_backend.app import CpoBackend
from cpo_backend.config import Settings, load_settings

# CI runs the property tests on a fixed set of examples, so that a red build always means
# a change broke something; runs elsewhere keep exploring new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

POSTGRES_URL = os.environ.get(
    "CPO_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(_dsn(POSTGRES_URL), timeout=3)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str | None]:
    """A database for this test session; None when PostgreSQL cannot be reached."""
    name = f"cpo_test_{os.getpid()}"
    try:
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name}"))
        asyncio.run(_admin(f"CREATE DATABASE {name}"))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        yield None
        return
    yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_session_url: str | None
) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'cpo.db'}"
    if postgres_session_url is None:
        reason = f"PostgreSQL not reachable at {POSTGRES_URL}"
        if os.environ.get("CPO_TEST_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    connection = await asyncpg.connect(_dsn(postgres_session_url), timeout=3)
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()
    return postgres_session_url


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

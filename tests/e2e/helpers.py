"""Helpers shared by the end-to-end tests: a back-end of the test's own settings, API
shortcuts and the assertions every module makes the same way."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from cpo_backend.app import CpoBackend
from cpo_backend.config import Settings
from tests.conftest import make_settings

# UTC, a Z, at most millisecond precision: what we put on every wire.
WIRE_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$")


def assert_wire_timestamp(value: object) -> None:
    assert isinstance(value, str), value
    assert WIRE_TIMESTAMP.match(value), f"not a UTC millisecond timestamp with Z: {value!r}"


def iso(moment: datetime) -> str:
    """A charger-style timestamp (UTC, milliseconds, Z)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def minutes_ago(minutes: float) -> str:
    return iso(datetime.now(UTC) - timedelta(minutes=minutes))


@dataclass
class Running:
    """A started back-end, its operator API client and its OCPP endpoint."""

    backend: CpoBackend
    api: httpx.AsyncClient

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.backend.ocpp_port}/ocpp"


@asynccontextmanager
async def running(
    settings: Settings, *, headers: dict[str, str] | None = None
) -> AsyncIterator[Running]:
    """Start a back-end with ``settings``; stop it on exit."""
    backend = CpoBackend(settings)
    await backend.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{backend.http_port}", timeout=10, headers=headers
        ) as client:
            yield Running(backend, client)
    finally:
        await backend.stop()


@asynccontextmanager
async def running_with(database_url: str, **sections: dict[str, object]) -> AsyncIterator[Running]:
    """Start a back-end on ``database_url`` with some settings sections overridden."""
    async with running(make_settings(database_url, **sections)) as server:
        yield server


async def get_json(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params or None)
    assert response.status_code == 200, response.text
    return response.json()


async def create_token(api: httpx.AsyncClient, id_token: str, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/tokens", json={"id_token": id_token, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def register_station(api: httpx.AsyncClient, station_id: str, **fields: Any) -> Any:
    response = await api.post("/api/stations", json={"id": station_id, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def transactions(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await get_json(api, "/api/transactions", **params)
    return found


async def transaction(api: httpx.AsyncClient, transaction_id: int) -> dict[str, Any]:
    found: dict[str, Any] = await get_json(api, f"/api/transactions/{transaction_id}")
    return found


async def station(api: httpx.AsyncClient, station_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await get_json(api, f"/api/stations/{station_id}")
    return found


async def events(api: httpx.AsyncClient, station_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await get_json(api, f"/api/stations/{station_id}/events")
    return found


async def command(
    api: httpx.AsyncClient, station_id: str, name: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await api.post(f"/api/stations/{station_id}/commands/{name}", json=body or {})

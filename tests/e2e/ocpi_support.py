"""Helpers of the OCPI end-to-end tests: a hub simulator and sample locations."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from cpo_backend.app import CpoBackend
from simulators.ocpi_hub import HubSimulator
from tests.conftest import make_settings

# Outbox timings that retry within a test's patience.
QUICK_OUTBOX: dict[str, object] = {
    "outbox_base_backoff": 0.05,
    "outbox_max_backoff": 0.2,
    "outbox_poll_interval": 0.1,
}


async def register_hub(api: httpx.AsyncClient, hub: HubSimulator) -> dict[str, Any]:
    """The hub registers with the back-end using a token A from the operator API."""
    issued = (await api.post("/api/ocpi/partners/token-a")).json()
    return await hub.register_with(issued["versions_url"], issued["token_a"])


@contextlib.asynccontextmanager
async def registered_hub(api: httpx.AsyncClient, **identity: Any) -> AsyncIterator[HubSimulator]:
    """A hub simulator (``identity``: who it is, as ``HubSimulator`` takes it), registered
    with the back-end of ``api`` for as long as it runs."""
    async with HubSimulator(**identity) as simulator:
        await register_hub(api, simulator)
        yield simulator


@contextlib.asynccontextmanager
async def registered_backend(
    database_url: str, **sections: dict[str, object]
) -> AsyncIterator[tuple[CpoBackend, httpx.AsyncClient, HubSimulator]]:
    """A back-end of its own (these settings sections), its API and a hub registered."""
    server = CpoBackend(make_settings(database_url, **sections))
    await server.start()
    try:
        async with (
            HubSimulator() as hub,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}") as api,
        ):
            await register_hub(api, hub)
            yield server, api, hub
    finally:
        await server.stop()


def backend_fixture(**sections: dict[str, object]) -> Any:
    """A ``backend`` fixture (overriding conftest's) with these settings sections."""

    @pytest.fixture
    async def backend(database_url: str) -> AsyncIterator[CpoBackend]:
        server = CpoBackend(make_settings(database_url, **sections))
        await server.start()
        try:
            yield server
        finally:
            await server.stop()

    return backend


def hub_fixture(setup: Callable[[httpx.AsyncClient], Awaitable[None]] | None = None) -> Any:
    """A ``hub`` fixture: a hub simulator registered with the back-end, after ``setup``."""

    @pytest.fixture
    async def hub(api: httpx.AsyncClient) -> AsyncIterator[HubSimulator]:
        async with registered_hub(api) as simulator:
            if setup is not None:
                await setup(api)
            yield simulator

    return hub


async def active_transactions(api: httpx.AsyncClient, station_id: str) -> list[dict[str, Any]]:
    """The station's active transactions, as the operator API lists them."""
    query = {"station_id": station_id, "status": "active"}
    found: list[dict[str, Any]] = (await api.get("/api/transactions", params=query)).json()
    return found


def token_header(token: str, *, encoded: bool = True) -> dict[str, str]:
    value = base64.b64encode(token.encode()).decode() if encoded else token
    return {"Authorization": f"Token {value}"}


def location_body(
    *evses: tuple[str, str | None, int | None], publish: bool = True
) -> dict[str, Any]:
    """An operator API location; each EVSE is (uid, station id, OCPP EVSE id)."""
    return {
        "publish": publish,
        "name": "Market square",
        "address": "Grote Markt 1",
        "city": "Utrecht",
        "postal_code": "3511",
        "country": "NLD",
        "coordinates": {"latitude": "52.09090", "longitude": "5.12111"},
        "time_zone": "Europe/Amsterdam",
        "facilities": ["CAFE"],
        "opening_times": {"twentyfourseven": True},
        "evses": [
            {
                "uid": uid,
                "evse_id": f"NL*CPO*E{uid}",
                "station_id": station_id,
                "ocpp_evse_id": ocpp_evse_id,
                "capabilities": ["REMOTE_START_STOP_CAPABLE"],
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "tariff_ids": ["AC1"],
                    }
                ],
            }
            for uid, station_id, ocpp_evse_id in evses
        ],
    }

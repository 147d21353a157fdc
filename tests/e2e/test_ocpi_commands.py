"""Commands from an eMSP reach real chargers; results come back on the response URL."""

from __future__ import annotations

from typing import Any

import httpx
import websockets
from websockets.typing import Subprotocol

from simulators.ocpi_hub import HubSimulator
from simulators.ocpp16 import connect
from tests.conftest import eventually
from tests.e2e.ocpi_support import (
    QUICK_OUTBOX,
    backend_fixture,
    hub_fixture,
    location_body,
)


async def _charger_location(api: httpx.AsyncClient) -> None:
    body = location_body(("1", "CP_CMD", 1), ("2", "CP_CMD", 2), ("9", "CP_SILENT", 1))
    assert (await api.put("/api/locations/LOC1", json=body)).is_success


backend = backend_fixture(ocpi=QUICK_OUTBOX, ocpp={"response_timeout": 1.0})
hub = hub_fixture(_charger_location)


async def result_of(hub: HubSimulator, reference: str) -> str:
    await hub.wait_for(lambda s: reference in s.command_results)
    return str(hub.state.command_results[reference]["result"])


async def test_start_and_stop_session(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    token = hub.token("DRV1", whitelist="ALLOWED")
    hub.state.tokens["DRV1"] = token
    async with connect(ocpp_url, "CP_CMD", connectors=2) as cp:
        await cp.start_up()
        reference, response = await hub.command(
            "START_SESSION", token=token, location_id="LOC1", evse_uid="2"
        )
        assert response["status_code"] == 1000
        assert response["data"]["result"] == "ACCEPTED"
        assert response["data"]["timeout"] >= 1
        assert await result_of(hub, reference) == "ACCEPTED"

        async def active() -> list[dict[str, Any]]:
            query = {"station_id": "CP_CMD", "status": "active"}
            found: list[dict[str, Any]] = (await api.get("/api/transactions", params=query)).json()
            return found

        await eventually(active)
        session = (await active())[0]
        assert session["id_token"] == "DRV1"
        assert session["evse_id"] == 2
        reference, response = await hub.command("STOP_SESSION", session_id=str(session["id"]))
        assert response["data"]["result"] == "ACCEPTED"
        assert await result_of(hub, reference) == "ACCEPTED"

        async def stopped() -> bool:
            return not await active()

        await eventually(stopped)
    _reference, unknown = await hub.command("STOP_SESSION", session_id=str(session["id"]))
    assert unknown["data"]["result"] == "UNKNOWN_SESSION"


async def test_unlock_and_reservations(hub: HubSimulator, ocpp_url: str) -> None:
    token = hub.token("DRV2")
    async with connect(ocpp_url, "CP_CMD", connectors=2) as cp:
        await cp.start_up()
        reference, _ = await hub.command(
            "UNLOCK_CONNECTOR", location_id="LOC1", evse_uid="1", connector_id="1"
        )
        assert await result_of(hub, reference) == "ACCEPTED"
        reference, _ = await hub.command(
            "RESERVE_NOW",
            token=token,
            expiry_date="2099-01-01T00:00:00Z",
            reservation_id="R-1",
            location_id="LOC1",
            evse_uid="1",
        )
        assert await result_of(hub, reference) == "ACCEPTED"
        reference, _ = await hub.command("CANCEL_RESERVATION", reservation_id="R-1")
        assert await result_of(hub, reference) == "ACCEPTED"
        reference, _ = await hub.command("CANCEL_RESERVATION", reservation_id="R-1")
        assert await result_of(hub, reference) == "UNKNOWN_RESERVATION"


async def test_offline_silent_and_unknown(hub: HubSimulator, ocpp_url: str) -> None:
    token = hub.token("DRV3")
    _, unknown = await hub.command("START_SESSION", token=token, location_id="NOWHERE")
    assert unknown["status_code"] == 2003
    _, invalid = await hub.command("START_SESSION", location_id="LOC1")
    assert invalid["status_code"] == 2001
    reference, _ = await hub.command("START_SESSION", token=token, location_id="LOC1", evse_uid="1")
    assert await result_of(hub, reference) == "FAILED"
    async with websockets.connect(f"{ocpp_url}/CP_SILENT", subprotocols=[Subprotocol("ocpp1.6")]):
        reference, _ = await hub.command(
            "START_SESSION", token=token, location_id="LOC1", evse_uid="9"
        )
        assert await result_of(hub, reference) == "TIMEOUT"

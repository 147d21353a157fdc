"""Through a hub: sessions for an eMSP behind it go to the hub addressed to that eMSP, and
wait while the hub reports the eMSP offline."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from simulators.ocpi_hub import HubSimulator, Received
from simulators.ocpp16 import connect
from tests.conftest import eventually
from tests.e2e.ocpi_support import QUICK_OUTBOX, backend_fixture, location_body, register_hub

backend = backend_fixture(ocpi=QUICK_OUTBOX)


@pytest.fixture
async def hub(api: httpx.AsyncClient) -> AsyncIterator[HubSimulator]:
    async with HubSimulator(country_code="DE", party_id="HUB", role="HUB") as simulator:
        await register_hub(api, simulator)
        body = location_body(("1", "CP_HUB", 1))
        assert (await api.put("/api/locations/LOC1", json=body)).is_success
        yield simulator


async def client_info(hub: HubSimulator, status: str) -> None:
    url = hub.module_url("hubclientinfo", "RECEIVER") + "/DE/EMS"
    info = {
        "party_id": "EMS",
        "country_code": "DE",
        "role": "EMSP",
        "status": status,
        "last_updated": "2026-01-01T00:00:00Z",
    }
    assert (await hub.call("PUT", url, json=info, routed=False)).is_success


def session_puts(hub: HubSimulator) -> list[Received]:
    return hub.pushes("sessions", "PUT")


async def test_sessions_of_an_emsp_behind_the_hub(
    hub: HubSimulator, ocpp_url: str, api: httpx.AsyncClient
) -> None:
    # The hub reports EMS first: only then are EMS's tokens the hub's to push.
    await client_info(hub, "CONNECTED")
    token = hub.token("BEHIND") | {"party_id": "EMS", "contract_id": "DE-EMS-C1"}
    assert (await hub.push_token(token)).status_code == 201
    async with connect(ocpp_url, "CP_HUB", connectors=1) as cp:
        await cp.start_up()
        assert (await cp.plug_in_and_charge(1, "BEHIND", duration=0.2)).accepted
        await hub.wait_for(lambda _s: len(session_puts(hub)) == 1)
        first = session_puts(hub)[0]
        assert first.headers["ocpi-to-party-id"] == "EMS"
        assert first.headers["ocpi-to-country-code"] == "DE"
        assert first.body["cdr_token"]["party_id"] == "EMS"
        await hub.wait_for(lambda s: bool(s.cdrs))
        [cdr_post] = [r for r in hub.state.received if r.path.endswith("/cdrs")]
        assert cdr_post.headers["ocpi-to-party-id"] == "EMS"
        # Offline at the hub: the next session waits, and arrives once it is back.
        await client_info(hub, "OFFLINE")
        assert (await cp.plug_in_and_charge(1, "BEHIND", duration=0.2)).accepted

        async def held() -> bool:
            pending = (await api.get("/api/ocpi/outbox", params={"state": "pending"})).json()
            return any("OFFLINE" in (row["last_error"] or "") for row in pending)

        # The new Session's PUT was tried and is held for the offline party.
        await eventually(held)
        assert len(session_puts(hub)) == 1
        await client_info(hub, "CONNECTED")
        await hub.wait_for(lambda _s: len(session_puts(hub)) == 2)


async def test_command_results_go_back_to_the_sender_behind_the_hub(
    hub: HubSimulator, ocpp_url: str
) -> None:
    reference = "unlock-1"
    body = {
        "response_url": f"{hub.base_url}/emsp/2.2.1/commands/UNLOCK_CONNECTOR/{reference}",
        "location_id": "LOC1",
        "evse_uid": "1",
        "connector_id": "1",
    }
    from_ems = {"OCPI-from-country-code": "DE", "OCPI-from-party-id": "EMS"}
    url = hub.module_url("commands", "RECEIVER") + "/UNLOCK_CONNECTOR"
    async with connect(ocpp_url, "CP_HUB", connectors=1) as cp:
        await cp.start_up()
        answer = await hub.call("POST", url, json=body, headers=from_ems)
        assert answer.json()["data"]["result"] == "ACCEPTED"
        await hub.wait_for(lambda s: reference in s.command_results)
    [result] = hub.pushes("commands")
    assert result.headers["ocpi-to-party-id"] == "EMS"
    assert result.body["result"] == "ACCEPTED"

"""Tokens: pushed by the eMSP, used by chargers under the whitelist rules."""

from __future__ import annotations

from typing import Any

import httpx

from simulators import ocpp201
from simulators.ocpi_hub import HubSimulator
from simulators.ocpp16 import connect
from tests.e2e.ocpi_support import (
    QUICK_OUTBOX,
    backend_fixture,
    hub_fixture,
    location_body,
    registered_backend,
)

backend = backend_fixture(ocpi={"authorize_timeout": 0.5})
hub = hub_fixture()


async def test_put_get_patch_token(hub: HubSimulator) -> None:
    token = hub.token("AA11", whitelist="ALLOWED")
    created = await hub.push_token(token)
    assert created.status_code == 201
    assert created.json()["status_code"] == 1000
    url = f"{hub.module_url('tokens', 'RECEIVER')}/DE/MSP/AA11"
    stored = (await hub.call("GET", url)).json()["data"]
    assert stored["contract_id"] == token["contract_id"]
    assert (await hub.push_token(token)).status_code == 200
    no_stamp = await hub.call("PATCH", url, json={"valid": False})
    assert no_stamp.json()["status_code"] == 2001
    patched = await hub.call(
        "PATCH", url, json={"valid": False, "last_updated": "2026-11-23T10:00:00Z"}
    )
    assert patched.json()["status_code"] == 1000
    assert (await hub.call("GET", url)).json()["data"]["valid"] is False
    unknown = await hub.call("GET", url.replace("AA11", "ZZ99"))
    assert unknown.status_code == 404
    assert unknown.json()["status_code"] == 2004


async def test_url_and_body_must_agree(hub: HubSimulator) -> None:
    token = hub.token("BB22")
    url = f"{hub.module_url('tokens', 'RECEIVER')}/DE/MSP/OTHER"
    reply = await hub.call("PUT", url, json=token)
    assert reply.status_code == 200
    assert reply.json()["status_code"] == 2001
    incomplete = {key: value for key, value in token.items() if key != "whitelist"}
    url = f"{hub.module_url('tokens', 'RECEIVER')}/DE/MSP/BB22"
    assert (await hub.call("PUT", url, json=incomplete)).json()["status_code"] == 2001


async def test_chargers_authorize_partner_tokens(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    body = location_body(("1", "CP_TOK", 1))
    assert (await api.put("/api/locations/LOC1", json=body)).is_success
    await hub.push_token(hub.token("ALWAYS1", whitelist="ALWAYS"))
    await hub.push_token(hub.token("BLOCKED1", valid=False))
    await hub.push_token(hub.token("NEVER1", whitelist="NEVER"))
    await hub.push_token(hub.token("NEVER2", whitelist="NEVER"))
    await hub.push_token(hub.token("OFFLINE1", whitelist="ALLOWED_OFFLINE"))
    hub.state.authorizations["NEVER2"] = "BLOCKED"
    async with connect(ocpp_url, "CP_TOK", connectors=1) as cp:
        await cp.start_up()

        async def status(id_tag: str) -> str:
            return str((await cp.authorize(id_tag)).id_tag_info["status"])

        assert await status("ALWAYS1") == "Accepted"
        assert await status("BLOCKED1") == "Blocked"
        assert await status("UNKNOWN1") == "Invalid"
        assert hub.pushes("tokens", "POST") == []
        assert await status("NEVER1") == "Accepted"
        assert await status("NEVER2") == "Blocked"
        asked = hub.pushes("tokens", "POST")
        assert [r.path.rsplit("/", 2)[1] for r in asked] == ["NEVER1", "NEVER2"]
        assert asked[0].headers["ocpi-to-party-id"] == "MSP"
        # Authorize names no connector: the station's EVSEs, as LocationReferences.
        assert asked[0].body == {"location_id": "LOC1", "evse_uids": ["1"]}
        # Without an answer in time: ALLOWED_OFFLINE is accepted, NEVER is not.
        hub.state.authorize_delay = 2.0
        assert await status("OFFLINE1") == "Accepted"
        assert await status("NEVER1") == "Invalid"


def _asked_where(hub: HubSimulator, since: int) -> list[Any]:
    """The LocationReferences of the real-time authorizations after the first ``since``."""
    return [request.body for request in hub.pushes("tokens", "POST")[since:]]


async def _two_locations(api: httpx.AsyncClient, station_id: str) -> None:
    """Station EVSEs 1 and 2 at location EAST, EVSE 3 at location WEST."""
    east = location_body(("E1", station_id, 1), ("E2", station_id, 2))
    assert (await api.put("/api/locations/EAST", json=east)).is_success
    west = location_body(("W3", station_id, 3))
    assert (await api.put("/api/locations/WEST", json=west)).is_success


async def test_ocpp16_realtime_authorization_names_the_location(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    await _two_locations(api, "CP_WHERE16")
    await hub.push_token(hub.token("NEVER16", whitelist="NEVER"))
    async with connect(ocpp_url, "CP_WHERE16", connectors=3) as cp:
        await cp.start_up()
        # Authorize: no connector, so the first location with the station's EVSEs there.
        assert (await cp.authorize("NEVER16")).id_tag_info["status"] == "Accepted"
        assert _asked_where(hub, 0) == [{"location_id": "EAST", "evse_uids": ["E1", "E2"]}]
        # StartTransaction names the connector: that EVSE only, at its own location.
        asked = len(hub.pushes("tokens", "POST"))
        started = await cp.start_transaction(3, "NEVER16")
        assert started.id_tag_info["status"] == "Accepted"
        # Asked once per start, at that EVSE only.
        assert _asked_where(hub, asked) == [{"location_id": "WEST", "evse_uids": ["W3"]}]
        asked = len(hub.pushes("tokens", "POST"))
        assert (await cp.start_transaction(2, "NEVER16")).id_tag_info["status"] == "Accepted"
        assert _asked_where(hub, asked) == [{"location_id": "EAST", "evse_uids": ["E2"]}]


async def test_ocpp201_realtime_authorization_names_the_location(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    await _two_locations(api, "CS_WHERE201")
    await hub.push_token(hub.token("NEVER201", whitelist="NEVER"))
    token = ocpp201.id_token("NEVER201")
    async with ocpp201.connect(ocpp_url, "CS_WHERE201", evses=3) as cs:
        await cs.start_up()
        assert (await cs.authorize("NEVER201")).id_token_info["status"] == "Accepted"
        assert _asked_where(hub, 0) == [{"location_id": "EAST", "evse_uids": ["E1", "E2"]}]
        # A Started with the token names its EVSE.
        asked = len(hub.pushes("tokens", "POST"))
        started = await cs.transaction_event(
            3, "Started", "Authorized", charging_state="Charging", token=token
        )
        assert started is not None
        assert started.id_token_info["status"] == "Accepted"
        # Asked once per start, at that EVSE only.
        assert _asked_where(hub, asked) == [{"location_id": "WEST", "evse_uids": ["W3"]}]
        # Cable first: the token comes in an Updated, which need not name the EVSE; the
        # transaction's EVSE (from its Started) is the place.
        await cs.transaction_event(2, "Started", "CablePluggedIn", charging_state="EVConnected")
        asked = len(hub.pushes("tokens", "POST"))
        updated = await cs.transaction_event(2, "Updated", "Authorized", token=token)
        assert updated is not None
        assert updated.id_token_info["status"] == "Accepted"
        assert _asked_where(hub, asked) == [{"location_id": "EAST", "evse_uids": ["E2"]}]


async def test_unknown_tokens_are_asked_when_configured(database_url: str) -> None:
    ocpi = QUICK_OUTBOX | {"authorize_timeout": 0.5, "authorize_unknown_tokens": True}
    async with registered_backend(database_url, ocpi=ocpi) as (server, api, emsp):
        body = location_body(("1", "CP_U", 1))
        assert (await api.put("/api/locations/U", json=body)).is_success
        # Known to the eMSP, never pushed to us.
        emsp.state.tokens["ROAM1"] = emsp.token("ROAM1", whitelist="ALWAYS")
        async with connect(f"ws://127.0.0.1:{server.ocpp_port}", "CP_U", connectors=1) as cp:
            await cp.start_up()
            assert (await cp.authorize("ROAM1")).id_tag_info["status"] == "Accepted"
            assert (await cp.authorize("NOBODY")).id_tag_info["status"] == "Invalid"
            assert (await cp.plug_in_and_charge(1, "ROAM1", duration=0.2)).accepted
        await emsp.wait_for(lambda s: bool(s.sessions))
        # The eMSP's token was kept: asked once, then whitelisted as the eMSP said.
        asked = [r.path.split("/")[-2] for r in emsp.pushes("tokens", "POST")]
        assert asked == ["ROAM1", "NOBODY"]
        [session] = emsp.state.sessions.values()
        assert session["cdr_token"]["contract_id"] == "DE-MSP-CROAM1"

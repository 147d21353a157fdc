"""Tokens: pushed by the eMSP, used by chargers under the whitelist rules."""

from __future__ import annotations

import httpx

from simulators.ocpi_hub import HubSimulator
from simulators.ocpp16 import connect
from tests.e2e.ocpi_support import backend_fixture, hub_fixture, location_body

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
        # Without an answer in time: ALLOWED_OFFLINE is accepted, NEVER is not.
        hub.state.authorize_delay = 2.0
        assert await status("OFFLINE1") == "Accepted"
        assert await status("NEVER1") == "Invalid"

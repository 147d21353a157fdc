"""Credentials exchange in both directions, re-tokening and unregistering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from typer.testing import CliRunner

from cpo_backend.app import CpoBackend
from cpo_backend.cli import app as cli_app
from simulators.ocpi_hub import HubSimulator
from tests.e2e.ocpi_support import register_hub, token_header


@pytest.fixture
async def hub() -> AsyncIterator[HubSimulator]:
    async with HubSimulator() as simulator:
        yield simulator


async def test_partner_registers_with_token_a(api: httpx.AsyncClient, hub: HubSimulator) -> None:
    issued = (await api.post("/api/ocpi/partners/token-a")).json()
    assert issued["versions_url"].endswith("/ocpi/versions")
    ours = await hub.register_with(issued["versions_url"], issued["token_a"])
    assert ours["roles"] == [
        {
            "role": "CPO",
            "party_id": "CPO",
            "country_code": "NL",
            "business_details": {"name": "cpo-backend"},
        }
    ]
    assert ours["token"] != issued["token_a"]
    partners = (await api.get("/api/ocpi/partners")).json()
    assert [(p["status"], p["roles"][0]["party_id"]) for p in partners] == [("registered", "MSP")]
    assert {e["identifier"] for e in partners[0]["endpoints"]} >= {"credentials", "locations"}
    # Token A is spent; token C opens the functional modules.
    versions = await hub.call("GET", issued["versions_url"], token=issued["token_a"])
    assert versions.status_code == 401
    assert (await hub.call("GET", hub.module_url("locations"))).json()["status_code"] == 1000
    again = await hub.call(
        "POST", hub.module_url("credentials"), json=hub.credentials("other"), routed=False
    )
    assert again.status_code == 405
    assert again.json()["status_code"] == 2000


async def test_token_a_opens_only_versions_and_credentials(
    api: httpx.AsyncClient, hub: HubSimulator
) -> None:
    issued = (await api.post("/api/ocpi/partners/token-a")).json()
    token_a = issued["token_a"]
    versions = await hub.call("GET", issued["versions_url"], token=token_a, routed=False)
    assert versions.json()["status_code"] == 1000
    details_url = versions.json()["data"][0]["url"]
    endpoints = (await hub.call("GET", details_url, token=token_a)).json()["data"]["endpoints"]
    urls = {e["identifier"]: e["url"] for e in endpoints}
    assert (await hub.call("GET", urls["locations"], token=token_a)).status_code == 401
    # Not registered yet: PUT and DELETE are not allowed.
    put = await hub.call("PUT", urls["credentials"], token=token_a, json=hub.credentials("x"))
    assert put.status_code == 405
    assert (await hub.call("DELETE", urls["credentials"], token=token_a)).status_code == 405


async def test_we_register_with_a_partner(api: httpx.AsyncClient, hub: HubSimulator) -> None:
    response = await api.post(
        "/api/ocpi/partners/register",
        json={"versions_url": hub.versions_url, "token_a": hub.issue_token_a()},
    )
    assert response.status_code == 201, response.text
    partner = response.json()
    assert partner["status"] == "registered"
    assert partner["roles"][0]["country_code"] == "DE"
    assert partner["version"] == "2.2.1"
    # The hub learnt our token B and uses it.
    locations = await hub.call("GET", hub.module_url("locations"))
    assert locations.json()["status_code"] == 1000


async def test_registration_with_unreachable_partner_fails(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/ocpi/partners/register",
        json={"versions_url": "http://127.0.0.1:9/ocpi/versions", "token_a": "nope"},
    )
    assert response.status_code == 502
    assert (response.json()["error"], response.json()["ocpi_status"]) == (
        "registration_failed",
        3001,
    )


async def test_registration_fails_when_partner_versions_fail(
    api: httpx.AsyncClient, hub: HubSimulator
) -> None:
    """The partner POSTs credentials whose versions URL we cannot use: status 3001."""
    issued = (await api.post("/api/ocpi/partners/token-a")).json()
    await hub.register_with(issued["versions_url"], issued["token_a"])
    second = (await api.post("/api/ocpi/partners/token-a")).json()
    bad = hub.credentials("bad-token")
    bad["url"] = "http://127.0.0.1:9/ocpi/versions"
    bad["roles"][0]["party_id"] = "BAD"  # another party: the same one registers once
    reply = await hub.call(
        "POST", hub.module_url("credentials"), token=second["token_a"], json=bad, routed=False
    )
    assert reply.status_code == 200
    assert reply.json()["status_code"] == 3001


async def test_put_retokens_and_delete_unregisters(
    api: httpx.AsyncClient, hub: HubSimulator
) -> None:
    await register_hub(api, hub)
    old_token = hub.state.token_to_cpo
    assert old_token is not None
    credentials_url = hub.module_url("credentials")
    fetched = await hub.call("GET", credentials_url, routed=False)
    assert fetched.json()["data"]["token"] == old_token
    updated = await hub.call(
        "PUT", credentials_url, json=hub.credentials(hub.state.token_from_cpo or ""), routed=False
    )
    assert updated.json()["status_code"] == 1000
    new_token = updated.json()["data"]["token"]
    assert new_token != old_token
    locations_url = hub.module_url("locations")
    assert (await hub.call("GET", locations_url, token=old_token)).status_code == 401
    assert (await hub.call("GET", locations_url, token=new_token)).status_code == 200
    deleted = await hub.call("DELETE", credentials_url, token=new_token, routed=False)
    assert deleted.json()["status_code"] == 1000
    assert (await hub.call("GET", locations_url, token=new_token)).status_code == 401
    partners = (await api.get("/api/ocpi/partners")).json()
    assert partners[0]["status"] == "unregistered"


async def test_plain_token_of_older_clients_is_accepted(
    api: httpx.AsyncClient, hub: HubSimulator
) -> None:
    await register_hub(api, hub)
    token = hub.state.token_to_cpo or ""
    async with httpx.AsyncClient() as client:
        plain = await client.get(
            hub.module_url("locations"), headers=token_header(token, encoded=False)
        )
    assert plain.json()["status_code"] == 1000


async def test_command_line_token_a_and_register(backend: CpoBackend, hub: HubSimulator) -> None:
    env = {
        "CPO_DATABASE__URL": backend.settings.database.url,
        "CPO_HTTP__HOST": "127.0.0.1",
        "CPO_HTTP__PORT": str(backend.http_port),
    }
    runner = CliRunner()
    issued = await asyncio.to_thread(runner.invoke, cli_app, ["ocpi", "token-a"], env=env)
    assert issued.exit_code == 0, issued.output
    lines = dict(line.split(":", 1) for line in issued.output.strip().splitlines())
    versions_url = lines["versions URL"].strip()
    assert versions_url == f"http://127.0.0.1:{backend.http_port}/ocpi/versions"
    await hub.register_with(versions_url, lines["token A"].strip())
    other = HubSimulator(party_id="OTH")
    await other.start()
    try:
        registered = await asyncio.to_thread(
            runner.invoke,
            cli_app,
            ["ocpi", "register", other.versions_url, other.issue_token_a()],
            env=env,
        )
        assert registered.exit_code == 0, registered.output
        assert other.state.token_to_cpo is not None
    finally:
        await other.stop()


async def test_we_renew_and_unregister(api: httpx.AsyncClient, hub: HubSimulator) -> None:
    registered = await api.post(
        "/api/ocpi/partners/register",
        json={"versions_url": hub.versions_url, "token_a": hub.issue_token_a()},
    )
    partner_id = registered.json()["id"]
    old_token = hub.state.token_to_cpo
    renewed = await api.post(f"/api/ocpi/partners/{partner_id}/renew")
    assert renewed.status_code == 200, renewed.text
    assert hub.state.token_to_cpo != old_token
    locations = hub.module_url("locations")
    assert (await hub.call("GET", locations, token=old_token)).status_code == 401
    assert (await hub.call("GET", locations)).json()["status_code"] == 1000
    gone = await api.delete(f"/api/ocpi/partners/{partner_id}")
    assert gone.json()["status"] == "unregistered"
    assert hub.state.token_from_cpo is None
    again = await api.delete(f"/api/ocpi/partners/{partner_id}")
    assert again.status_code == 502
    assert (await api.delete("/api/ocpi/partners/999")).status_code == 404


async def test_a_party_registers_once(api: httpx.AsyncClient, hub: HubSimulator) -> None:
    await register_hub(api, hub)
    async with HubSimulator() as twin:  # the same party, with a second token A
        issued = (await api.post("/api/ocpi/partners/token-a")).json()
        token_a = issued["token_a"]
        url = issued["versions_url"].removesuffix("/versions") + "/2.2.1/credentials"
        refused = await twin.call(
            "POST", url, token=token_a, json=twin.credentials("twin-token"), routed=False
        )
        assert refused.status_code == 405
        assert "DE*MSP is already registered" in refused.json()["status_message"]
        twice = twin.credentials("twin-token")
        twice["roles"] = twice["roles"] * 2
        duplicated = await twin.call("POST", url, token=token_a, json=twice, routed=False)
        assert duplicated.json()["status_code"] == 2001

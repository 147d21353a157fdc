"""OCPI 2.1.1 side by side: a 2.1.1 eMSP registers (either way), pulls, is pushed to in
2.1.1 shapes, pushes its tokens and starts a charge on a real charger to a 2.1.1 CDR."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from simulators.ocpi_hub import HubSimulator
from simulators.ocpp16 import connect
from tests.conftest import eventually
from tests.e2e.ocpi_support import (
    QUICK_OUTBOX,
    active_transactions,
    backend_fixture,
    location_body,
    register_hub,
)

TARIFF = {
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}],
}

backend = backend_fixture(ocpi=QUICK_OUTBOX | {"session_update_interval": 0.0})


@pytest.fixture
async def legacy_hub(api: httpx.AsyncClient) -> AsyncIterator[HubSimulator]:
    async with HubSimulator(party_id="OLD", version="2.1.1") as simulator:
        await register_hub(api, simulator)
        yield simulator


def plain_tokens_only(hub: HubSimulator) -> None:
    """Every request we sent carried the plain token and no routing headers."""
    for received in hub.state.received:
        assert received.headers["authorization"] == f"Token {hub.state.token_from_cpo}"
        assert not any(name.startswith("ocpi-") for name in received.headers)


async def test_versions_list_both(api: httpx.AsyncClient, legacy_hub: HubSimulator) -> None:
    token = legacy_hub.state.token_to_cpo or ""
    versions = await api.get("/ocpi/versions", headers={"Authorization": f"Token {token}"})
    assert [v["version"] for v in versions.json()["data"]] == ["2.2.1", "2.1.1"]
    details = await api.get("/ocpi/2.1.1", headers={"Authorization": f"Token {token}"})
    endpoints = details.json()["data"]["endpoints"]
    assert {e["identifier"] for e in endpoints} == {
        "credentials",
        "locations",
        "tariffs",
        "tokens",
        "commands",
        "sessions",
        "cdrs",
    }
    assert all("role" not in e for e in endpoints)


async def test_legacy_partner_pulls_and_gets_pushes(
    api: httpx.AsyncClient, legacy_hub: HubSimulator
) -> None:
    partners = (await api.get("/api/ocpi/partners")).json()
    assert [(p["version"], p["roles"][0]["party_id"]) for p in partners] == [("2.1.1", "OLD")]
    assert legacy_hub.state.cpo_roles[0]["party_id"] == "CPO"
    body = location_body(("1", None, None))
    body["parking_type"] = "ON_DRIVEWAY"
    assert (await api.put("/api/locations/LOC1", json=body)).is_success
    assert (await api.put("/api/tariffs/AC1", json=TARIFF)).is_success
    [location] = await legacy_hub.get_all("locations")
    assert location["type"] == "OTHER"
    assert "country_code" not in location
    connector = location["evses"][0]["connectors"][0]
    assert (connector["voltage"], connector["amperage"], connector["tariff_id"]) == (230, 32, "AC1")
    [tariff] = await legacy_hub.get_all("tariffs")
    assert tariff["id"] == "AC1"
    assert "country_code" not in tariff
    evse = await legacy_hub.call("GET", legacy_hub.module_url("locations") + "/LOC1/1")
    assert evse.json()["data"]["uid"] == "1"
    assert "OCPI-from-party-id" not in evse.headers
    # The same changes are pushed in the 2.1.1 shapes.
    await legacy_hub.wait_for(lambda s: "LOC1" in s.locations and "AC1" in s.tariffs)
    assert legacy_hub.state.locations["LOC1"]["type"] == "OTHER"
    assert "country_code" not in legacy_hub.state.locations["LOC1"]
    assert "country_code" not in legacy_hub.state.tariffs["AC1"]
    plain_tokens_only(legacy_hub)


async def test_we_register_with_a_legacy_partner(api: httpx.AsyncClient) -> None:
    async with HubSimulator(party_id="OLD", version="2.1.1") as hub:
        token_a = hub.issue_token_a()
        registered = await api.post(
            "/api/ocpi/partners/register",
            json={"versions_url": hub.versions_url, "token_a": token_a},
        )
        assert registered.status_code == 201, registered.text
        partner = registered.json()
        assert partner["version"] == "2.1.1"
        assert partner["roles"][0]["party_id"] == "OLD"
        # Our 2.1.1 credentials: one party, no roles.
        assert hub.state.cpo_roles[0]["party_id"] == "CPO"
        assert "roles" not in hub.state.cpo_roles[0]
        assert await hub.get_all("locations") == []
        renewed = await api.post(f"/api/ocpi/partners/{partner['id']}/renew")
        assert renewed.status_code == 200, renewed.text
        assert await hub.get_all("locations") == []
        plain_tokens_only(hub)


async def _charged_tariff_and_location(api: httpx.AsyncClient) -> None:
    assert (await api.put("/api/tariffs/AC1", json=TARIFF)).is_success
    body = location_body(("1", "CP_OLD", 1), ("2", "CP_OLD", 2))
    assert (await api.put("/api/locations/LOC1", json=body)).is_success


async def test_legacy_token_and_remote_start_to_a_cdr(
    api: httpx.AsyncClient, legacy_hub: HubSimulator, ocpp_url: str
) -> None:
    await _charged_tariff_and_location(api)
    token = legacy_hub.token("OLD1", whitelist="ALLOWED")
    assert (await legacy_hub.push_token(token)).status_code == 201
    stored = await legacy_hub.call("GET", legacy_hub.module_url("tokens") + "/DE/OLD/OLD1")
    assert stored.json()["data"]["auth_id"] == token["auth_id"]
    assert "contract_id" not in stored.json()["data"]
    config = {"MeterValueSampleInterval": "1"}
    async with connect(ocpp_url, "CP_OLD", connectors=2, config=config) as cp:
        await cp.start_up()
        reference, response = await legacy_hub.command(
            "START_SESSION", token=token, location_id="LOC1", evse_uid="2"
        )
        assert response["data"] == {"result": "ACCEPTED"}
        await legacy_hub.wait_for(lambda s: reference in s.command_results)
        assert legacy_hub.state.command_results[reference] == {"result": "ACCEPTED"}

        await eventually(lambda: active_transactions(api, "CP_OLD"))
        # Meter values every second: PATCHes with the energy and the cost so far.
        await legacy_hub.wait_for(
            lambda s: any(p.body.get("total_cost") for p in legacy_hub.pushes("sessions", "PATCH"))
        )
        [session_id] = legacy_hub.state.sessions
        reference, response = await legacy_hub.command("STOP_SESSION", session_id=session_id)
        assert response["data"] == {"result": "ACCEPTED"}
        await legacy_hub.wait_for(lambda s: bool(s.cdrs))
    [session] = legacy_hub.state.sessions.values()
    put = legacy_hub.pushes("sessions", "PUT")[0].body
    assert put["auth_id"] == token["auth_id"]
    assert put["auth_method"] == "AUTH_REQUEST"
    assert put["status"] == "PENDING"
    assert [e["uid"] for e in put["location"]["evses"]] == ["2"]
    assert "start_datetime" in put
    assert "cdr_token" not in put
    assert session["status"] == "COMPLETED"
    assert session["end_datetime"].endswith("Z")
    [cdr] = legacy_hub.state.cdrs
    assert cdr["auth_id"] == token["auth_id"]
    assert cdr["stop_date_time"].endswith("Z")
    assert isinstance(cdr["total_cost"], float | int)
    assert cdr["location"]["evses"][0]["uid"] == "2"
    assert cdr["tariffs"][0]["id"] == "AC1"
    assert cdr["total_energy"] == pytest.approx(session["kwh"], abs=0.001)
    assert [
        s["id"] for s in await legacy_hub.get_all("sessions", date_from="2020-01-01T00:00:00Z")
    ] == [put["id"]]
    assert await legacy_hub.get_all("cdrs") == [cdr]
    plain_tokens_only(legacy_hub)


async def test_legacy_reservation_and_unknown_command(
    api: httpx.AsyncClient, legacy_hub: HubSimulator, ocpp_url: str
) -> None:
    await _charged_tariff_and_location(api)
    token = legacy_hub.token("OLD2")
    async with connect(ocpp_url, "CP_OLD", connectors=2) as cp:
        await cp.start_up()
        reference, response = await legacy_hub.command(
            "RESERVE_NOW",
            token=token,
            expiry_date="2099-01-01T00:00:00Z",
            reservation_id=7,
            location_id="LOC1",
            evse_uid="1",
        )
        assert response["data"] == {"result": "ACCEPTED"}
        await legacy_hub.wait_for(lambda s: reference in s.command_results)
        assert legacy_hub.state.command_results[reference] == {"result": "ACCEPTED"}
    # 2.1.1 has no CANCEL_RESERVATION; a bad token is a 2001.
    _, cancel = await legacy_hub.command("CANCEL_RESERVATION", reservation_id="7")
    assert cancel["status_code"] == 2001
    _, bad = await legacy_hub.command("START_SESSION", token={"uid": "X"}, location_id="LOC1")
    assert bad["status_code"] == 2001
    assert "token." in bad["status_message"]

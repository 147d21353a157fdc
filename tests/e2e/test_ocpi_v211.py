"""OCPI 2.1.1 side by side: a 2.1.1 eMSP registers and pulls locations and tariffs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from simulators.ocpi_hub import HubSimulator
from tests.e2e.ocpi_support import location_body, register_hub

TARIFF = {
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}],
}


@pytest.fixture
async def legacy_hub(api: httpx.AsyncClient) -> AsyncIterator[HubSimulator]:
    async with HubSimulator(party_id="OLD", version="2.1.1") as simulator:
        await register_hub(api, simulator)
        yield simulator


async def test_versions_list_both(api: httpx.AsyncClient, legacy_hub: HubSimulator) -> None:
    token = legacy_hub.state.token_to_cpo or ""
    versions = await api.get("/ocpi/versions", headers={"Authorization": f"Token {token}"})
    assert [v["version"] for v in versions.json()["data"]] == ["2.2.1", "2.1.1"]
    details = await api.get("/ocpi/2.1.1", headers={"Authorization": f"Token {token}"})
    endpoints = details.json()["data"]["endpoints"]
    assert {e["identifier"] for e in endpoints} == {"credentials", "locations", "tariffs"}
    assert all("role" not in e for e in endpoints)


async def test_legacy_partner_registers_and_pulls(
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
    # Pushes are for 2.2.1 partners only: a 2.1.1 partner pulls.
    assert legacy_hub.state.received == []
    evse = await legacy_hub.call("GET", legacy_hub.module_url("locations") + "/LOC1/1")
    assert evse.json()["data"]["uid"] == "1"
    assert "OCPI-from-party-id" not in evse.headers

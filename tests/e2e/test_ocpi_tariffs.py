"""Tariffs: managed by the operator, pulled by partners, pushed (PUT/DELETE) to them."""

from __future__ import annotations

from typing import Any

import httpx

from simulators.ocpi_hub import HubSimulator
from tests.e2e.ocpi_support import QUICK_OUTBOX, backend_fixture, hub_fixture

ENERGY_TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "type": "REGULAR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.35, "vat": 21.0, "step_size": 1}]}
    ],
}


backend = backend_fixture(ocpi=QUICK_OUTBOX)
hub = hub_fixture()


async def test_tariffs_are_pulled_and_pushed(api: httpx.AsyncClient, hub: HubSimulator) -> None:
    created = await api.put("/api/tariffs/AC1", json=ENERGY_TARIFF | {"party_id": "XXX"})
    assert created.status_code == 200, created.text
    assert created.json()["party_id"] == "CPO"
    pulled = await hub.get_all("tariffs")
    assert [(t["id"], t["country_code"], t["currency"]) for t in pulled] == [("AC1", "NL", "EUR")]
    assert pulled[0]["elements"][0]["price_components"][0]["price"] == 0.35
    await hub.wait_for(lambda s: "AC1" in s.tariffs)
    assert hub.state.tariffs["AC1"]["last_updated"] == pulled[0]["last_updated"]
    cheaper = ENERGY_TARIFF | {
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]}]
    }
    assert (await api.put("/api/tariffs/AC1", json=cheaper)).is_success
    await hub.wait_for(
        lambda s: (
            s.tariffs.get("AC1", {}).get("elements", [{}])[0]["price_components"][0]["price"] == 0.3
        )
    )
    assert (await api.delete("/api/tariffs/AC1")).status_code == 204
    await hub.wait_for(lambda s: "AC1" not in s.tariffs)
    assert [p.method for p in hub.pushes("tariffs")] == ["PUT", "PUT", "DELETE"]
    assert await hub.get_all("tariffs") == []
    assert (await api.delete("/api/tariffs/AC1")).status_code == 404


async def test_invalid_tariff_is_refused_with_its_path(api: httpx.AsyncClient) -> None:
    bad = ENERGY_TARIFF | {"elements": [{"price_components": [{"type": "WATTS", "price": 1}]}]}
    response = await api.put("/api/tariffs/BAD", json=bad)
    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["tariff"]) == ("tariff_invalid", "BAD")
    assert "elements.0.price_components.0" in body["message"]

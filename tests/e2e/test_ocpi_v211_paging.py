"""A 2.1.1 partner pages through our tariffs when some have no 2.1.1 form: the pages are
cut after those are left out, and connectors name only tariffs the partner can GET."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from simulators.ocpi_hub import HubSimulator
from tests.e2e.ocpi_support import backend_fixture, location_body, register_hub

ENERGY = [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}]
PLAIN = {"currency": "EUR", "elements": ENERGY}
# max_price changes what a session costs: 2.1.1 cannot express it.
CAPPED = {"currency": "EUR", "elements": ENERGY, "max_price": {"excl_vat": 20.0}}
# Created in this order: P plain, X not expressible in 2.1.1.
TARIFFS = ["P1", "X1", "X2", "P2", "P3", "X3", "P4", "P5"]

backend = backend_fixture()


@pytest.fixture
async def legacy_hub(api: httpx.AsyncClient) -> AsyncIterator[HubSimulator]:
    async with HubSimulator(party_id="OLD", version="2.1.1") as simulator:
        await register_hub(api, simulator)
        for tariff_id in TARIFFS:
            body = PLAIN if tariff_id.startswith("P") else CAPPED
            response = await api.put(f"/api/tariffs/{tariff_id}", json=body)
            assert response.is_success, response.text
        yield simulator


async def _pages(hub: HubSimulator) -> list[tuple[list[str], int]]:
    """Each page's tariff ids and X-Total-Count, walking the Link headers with limit=2."""
    url: str | None = hub.module_url("tariffs")
    query: dict[str, Any] | None = {"limit": 2}
    pages = []
    while url is not None:
        response = await hub.call("GET", url, params=query)
        pages.append(
            ([t["id"] for t in response.json()["data"]], int(response.headers["X-Total-Count"]))
        )
        url = response.links.get("next", {}).get("url")
        query = None
    return pages


async def test_pages_hold_only_what_2_1_1_expresses(legacy_hub: HubSimulator) -> None:
    pages = await _pages(legacy_hub)
    received = [tariff_id for ids, _ in pages for tariff_id in ids]
    assert received == ["P1", "P2", "P3", "P4", "P5"]
    assert [len(ids) for ids, _ in pages] == [2, 2, 1]
    assert {total for _, total in pages} == {len(received)}


async def test_connectors_name_only_served_tariffs(
    api: httpx.AsyncClient, legacy_hub: HubSimulator
) -> None:
    body = location_body(("1", None, None), ("2", None, None), ("3", None, None))
    connectors = [evse["connectors"][0] for evse in body["evses"]]
    connectors[0]["tariff_ids"] = ["P2", "X1"]
    connectors[1]["tariff_ids"] = ["X1", "P2"]  # priced under X1: no 2.1.1 tariff to name
    connectors[2]["tariff_ids"] = ["GONE", "P3"]  # GONE is no tariff: priced under P3
    assert (await api.put("/api/locations/LOC1", json=body)).is_success
    served = {t["id"] for t in await legacy_hub.get_all("tariffs")}
    [location] = await legacy_hub.get_all("locations")
    named = [evse["connectors"][0].get("tariff_id") for evse in location["evses"]]
    assert named == ["P2", None, "P3"]
    assert {tariff_id for tariff_id in named if tariff_id} <= served
    base = legacy_hub.module_url("locations") + "/LOC1"
    one = (await legacy_hub.call("GET", base)).json()["data"]
    assert one == location
    evse = (await legacy_hub.call("GET", base + "/2")).json()["data"]
    assert "tariff_id" not in evse["connectors"][0]
    connector = (await legacy_hub.call("GET", base + "/1/1")).json()["data"]
    assert connector["tariff_id"] == "P2"

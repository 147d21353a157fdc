"""AFIR: no connector is published without a price a driver can see before charging."""

from __future__ import annotations

import httpx

from tests.e2e.ocpi_support import location_body


async def test_a_published_connector_needs_a_tariff(api: httpx.AsyncClient) -> None:
    body = location_body(("1", None, None))
    body["evses"][0]["connectors"][0]["tariff_ids"] = []
    refused = await api.put("/api/locations/LOC_AFIR", json=body)
    assert refused.status_code == 422
    assert "AFIR" in refused.text

    # Kept private, it may wait for its price.
    body["publish"] = False
    assert (await api.put("/api/locations/LOC_AFIR", json=body)).is_success

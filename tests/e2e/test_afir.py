"""AFIR: no connector is published without a price a driver can see before charging, every
published tariff carries that price as text to every eMSP, and what the driver is billed
adds up, line by line, to the cent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from simulators.ocpi_hub import HubSimulator, HubState
from simulators.ocpp16 import connect
from tests.e2e.ocpi_support import (
    QUICK_OUTBOX,
    backend_fixture,
    hub_fixture,
    location_body,
    register_hub,
)
from tests.pricing.helpers import COMPONENTS

backend = backend_fixture(ocpi=QUICK_OUTBOX | {"session_update_interval": 0.0})
hub = hub_fixture()


@pytest.fixture
async def legacy_hub(api: httpx.AsyncClient) -> AsyncIterator[HubSimulator]:
    async with HubSimulator(party_id="OLD", version="2.1.1") as simulator:
        await register_hub(api, simulator)
        yield simulator


async def test_a_published_connector_needs_a_tariff(api: httpx.AsyncClient) -> None:
    body = location_body(("1", None, None))
    body["evses"][0]["connectors"][0]["tariff_ids"] = []
    refused = await api.put("/api/locations/LOC_AFIR", json=body)
    assert refused.status_code == 422
    assert "AFIR" in refused.text

    # Kept private, it may wait for its price.
    body["publish"] = False
    assert (await api.put("/api/locations/LOC_AFIR", json=body)).is_success


def _tariff(*components: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"currency": "EUR", "elements": [{"price_components": list(components)}], **fields}


ENERGY = _tariff({"type": "ENERGY", "price": 0.35, "vat": 21.0, "step_size": 1}, type="REGULAR")
# mod_tariffs "Ad-Hoc Tariff example not possible with OCPI": € 0.40 start at 25% VAT and
# € 1.90/h at 5.2% VAT, billed per 5 minutes; for card payment at the charger.
AD_HOC = _tariff(
    {"type": "FLAT", "price": 0.40, "vat": 25.0, "step_size": 1},
    {"type": "TIME", "price": 1.90, "vat": 5.2, "step_size": 300},
    type="AD_HOC_PAYMENT",
)
OWN_TEXT = [{"language": "en", "text": "Debit card start tariff 0.25 euro."}]
PRICE_TEXTS = {
    "AC1": [{"language": "en", "text": "0.4235 EUR/kWh incl. VAT"}],
    "ADHOC": [
        {
            "language": "en",
            "text": "0.0333 EUR/min charging incl. VAT, billed per 300 s; "
            "0.50 EUR per session incl. VAT",
        }
    ],
    "OWN": OWN_TEXT,
}


def _texts(tariffs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {tariff_id: t.get("tariff_alt_text") for tariff_id, t in tariffs.items()}


async def test_every_published_tariff_carries_its_price_text(
    api: httpx.AsyncClient, hub: HubSimulator, legacy_hub: HubSimulator
) -> None:
    """Without the operator's text, the price text is generated in the configured
    language (English by default), for the ad hoc tariff too; the operator's own text is
    kept. Pulled and pushed, in 2.2.1 and 2.1.1 alike."""
    for tariff_id, body in (
        ("AC1", ENERGY),
        ("ADHOC", AD_HOC),
        ("OWN", ENERGY | {"tariff_alt_text": OWN_TEXT}),
    ):
        assert (await api.put(f"/api/tariffs/{tariff_id}", json=body)).is_success
    for partner in (hub, legacy_hub):
        pulled = await partner.get_all("tariffs")
        assert _texts({t["id"]: t for t in pulled}) == PRICE_TEXTS, partner.version
        await partner.wait_for(lambda s: s.tariffs.keys() >= PRICE_TEXTS.keys())
        assert _texts(partner.state.tariffs) == PRICE_TEXTS, partner.version

    # A new price is a new text: it is made from the prices each time, never stored.
    cheaper = _tariff({"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1})
    assert (await api.put("/api/tariffs/AC1", json=cheaper)).is_success
    new_text = [{"language": "en", "text": "0.363 EUR/kWh incl. VAT"}]
    for partner in (hub, legacy_hub):
        await partner.wait_for(lambda s: s.tariffs["AC1"].get("tariff_alt_text") == new_text)
    # The operator API shows the operator's fields: a GET put back unchanged does not turn
    # a generated text into the operator's.
    assert "tariff_alt_text" not in (await api.get("/api/tariffs/AC1")).json()


# Exactly € 0.084 + € 0.0424/kWh, both at 10% VAT: 10 kWh are 0.084 + 0.424 = 0.508
# (0.5588 incl.), whose lines read 0.08 + 0.42 = 0.50 (0.09 + 0.47 = 0.56).
SUB_CENT = _tariff(
    {"type": "FLAT", "price": 0.084, "vat": 10.0, "step_size": 1},
    {"type": "ENERGY", "price": 0.0424, "vat": 10.0, "step_size": 1},
)


def _running_costs(state: HubState) -> list[Any]:
    """total_cost of the Session PATCHes sent while the session ran."""
    return [
        r.body["total_cost"]
        for r in state.received
        if r.method == "PATCH" and "/sessions/" in r.path
        if "total_cost" in r.body and "status" not in r.body
    ]


async def test_the_cdr_lines_add_up_to_its_total_and_to_the_session_s(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    assert (await api.put("/api/tariffs/AC1", json=SUB_CENT)).is_success
    location = location_body(("1", "CS_AFIR", 1))
    assert (await api.put("/api/locations/LOC1", json=location)).is_success
    assert (await hub.push_token(hub.token("DRV1", whitelist="ALWAYS"))).is_success
    async with connect(ocpp_url, "CS_AFIR", connectors=1) as cp:
        await cp.start_up()
        start = await cp.start_transaction(1, "DRV1", meter_start=1000)
        await hub.wait_for(lambda s: bool(s.sessions))
        at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        sample = {
            "timestamp": at,
            "sampled_value": [{"value": "6000", "measurand": "Energy.Active.Import.Register"}],
        }
        await cp.meter_values(1, [sample], transaction_id=start.transaction_id)
        await hub.wait_for(lambda s: bool(_running_costs(s)))
        await cp.stop_transaction(start.transaction_id, meter_stop=11000, reason="Local")
    await hub.wait_for(lambda s: bool(s.cdrs))

    # While running, at 5 kWh: 0.08 + 0.21 (exactly 0.296) and 0.09 + 0.23 (0.3256).
    assert _running_costs(hub.state) == [{"excl_vat": 0.29, "incl_vat": 0.32}]
    [cdr] = hub.state.cdrs
    assert cdr["total_fixed_cost"] == {"excl_vat": 0.08, "incl_vat": 0.09}
    assert cdr["total_energy_cost"] == {"excl_vat": 0.42, "incl_vat": 0.47}
    assert cdr["total_cost"] == {"excl_vat": 0.5, "incl_vat": 0.56}
    for basis in ("excl_vat", "incl_vat"):
        lines = sum(Decimal(str(cdr[name][basis])) for name in COMPONENTS)
        assert Decimal(str(cdr["total_cost"][basis])) == lines, basis
    # The final cost the COMPLETED Session carries is the CDR's, to the cent.
    [session] = hub.state.sessions.values()
    assert session["status"] == "COMPLETED"
    assert session["total_cost"] == cdr["total_cost"]
    # The tariff embedded in the CDR carries the price text the driver was shown.
    assert cdr["tariffs"][0]["tariff_alt_text"] == [
        {"language": "en", "text": "0.0466 EUR/kWh incl. VAT; 0.0924 EUR per session incl. VAT"}
    ]

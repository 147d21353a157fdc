"""What the billing tests share: a back-end with a tariffed EVSE and an eMSP that may
charge there (directly registered, or behind a hub), and what the eMSP was billed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import httpx

from cpo_backend.app import CpoBackend
from simulators.ocpi_hub import HubSimulator, HubState
from tests.conftest import make_settings
from tests.e2e.ocpi_support import QUICK_OUTBOX, location_body, register_hub

PRICE_PER_KWH = Decimal("0.40")
TARIFF = {
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.40, "vat": 20.0, "step_size": 1}]}
    ],
}
STATION = "CS_BILL"
DRIVER = "DRV1"

Route = Literal["direct", "hub"]


@dataclass(frozen=True, slots=True)
class BillingNetwork:
    server: CpoBackend
    api: httpx.AsyncClient
    # The eMSP itself, or the hub the eMSP (DE*EMS) is behind.
    hub: HubSimulator
    # The driver's token, as the eMSP pushed it.
    token: dict[str, Any]

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.ocpp_port}/ocpp"


@contextlib.asynccontextmanager
async def billing_network(
    database_url: str, grace: float, route: Route = "direct"
) -> AsyncIterator[BillingNetwork]:
    """A back-end (CDRs of estimated closures wait ``grace`` seconds) whose station
    CS_BILL, EVSE 1, charges under TARIFF, and an eMSP whose driver DRV1 may charge there:
    the partner itself (``direct``), or an eMSP behind the partner hub (``hub``)."""
    ocpi = QUICK_OUTBOX | {"cdr_estimate_grace": grace}
    server = CpoBackend(make_settings(database_url, ocpi=ocpi))
    await server.start()
    hub = (
        HubSimulator()
        if route == "direct"
        else HubSimulator(country_code="DE", party_id="HUB", role="HUB")
    )
    try:
        async with (
            hub,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}", timeout=10) as api,
        ):
            await register_hub(api, hub)
            assert (await api.put("/api/tariffs/AC1", json=TARIFF)).is_success
            body = location_body(("1", STATION, 1))
            assert (await api.put("/api/locations/LOC1", json=body)).is_success
            token = hub.token(DRIVER, whitelist="ALWAYS")
            if route == "hub":
                await _connect_behind(hub, "DE", "EMS")
                token |= {"party_id": "EMS", "contract_id": "DE-EMS-C1"}
            assert (await hub.push_token(token)).is_success
            yield BillingNetwork(server, api, hub, token)
    finally:
        await server.stop()


async def _connect_behind(hub: HubSimulator, country_code: str, party_id: str) -> None:
    """The hub reports an eMSP behind it as CONNECTED (hubclientinfo)."""
    url = hub.module_url("hubclientinfo", "RECEIVER") + f"/{country_code}/{party_id}"
    info = {
        "party_id": party_id,
        "country_code": country_code,
        "role": "EMSP",
        "status": "CONNECTED",
        "last_updated": "2026-01-01T00:00:00Z",
    }
    assert (await hub.call("PUT", url, json=info, routed=False)).is_success


def net_billed(state: HubState) -> tuple[Decimal, Decimal]:
    """Net kWh and cost excl. VAT of the CDRs the eMSP holds: credits subtract."""
    energy, cost = Decimal(0), Decimal(0)
    for cdr in state.cdrs:
        sign = -1 if cdr.get("credit") else 1
        energy += sign * Decimal(str(cdr["total_energy"]))
        cost += Decimal(str(cdr["total_cost"]["excl_vat"]))
    return energy, cost


def expected_cost(kwh: Decimal) -> Decimal:
    return (kwh * PRICE_PER_KWH).quantize(Decimal("0.01"))

"""A charger boots, charges and stops; the operator sees it all through the API."""

from __future__ import annotations

import httpx

from simulators.ocpp16 import connect


async def test_charger_boots_charges_and_stops(ocpp_url: str, api: httpx.AsyncClient) -> None:
    created = await api.post("/api/tokens", json={"id_token": "DRIVER-1"})
    assert created.status_code == 201
    async with connect(
        ocpp_url, "CP_SMOKE", connectors=2, config={"MeterValueSampleInterval": "1"}
    ) as cp:
        boot = await cp.start_up()
        assert boot.status == "Accepted"
        session = await cp.plug_in_and_charge(1, "DRIVER-1", duration=1.5)
        assert session.accepted
    transactions = (await api.get("/api/transactions", params={"station_id": "CP_SMOKE"})).json()
    assert len(transactions) == 1
    transaction = transactions[0]
    assert transaction["status"] == "completed"
    assert transaction["id_token"] == "DRIVER-1"
    assert transaction["stop_reason"] == "Local"
    details = (await api.get(f"/api/transactions/{transaction['id']}")).json()
    assert details["meter_values"], "meter values were stored"
    station = (await api.get("/api/stations/CP_SMOKE")).json()
    assert station["vendor"]
    assert {c["evse_id"] for c in station["connectors"]} >= {1, 2}

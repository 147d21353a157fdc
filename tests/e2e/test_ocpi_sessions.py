"""Sessions and CDRs: a partner's driver charges at a real charger; the eMSP hears of it."""

from __future__ import annotations

import asyncio
from decimal import ROUND_HALF_UP, Decimal

import httpx
import pytest
from sqlalchemy import select

from cpo_backend.app import CpoBackend
from cpo_backend.db.tables_ocpi import CdrRow
from simulators.common import utc_now
from simulators.ocpi_hub import HubSimulator
from simulators.ocpp16 import connect
from tests.conftest import eventually
from tests.e2e.ocpi_support import (
    QUICK_OUTBOX,
    backend_fixture,
    hub_fixture,
    location_body,
)

TARIFF = {
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.40, "vat": 20.0, "step_size": 1}]}
    ],
}


async def _tariff_and_location(api: httpx.AsyncClient) -> None:
    assert (await api.put("/api/tariffs/AC1", json=TARIFF)).is_success
    body = location_body(("1", "CP_SES", 1))
    assert (await api.put("/api/locations/LOC1", json=body)).is_success


backend = backend_fixture(ocpi=QUICK_OUTBOX | {"session_update_interval": 0.0})
hub = hub_fixture(_tariff_and_location)


async def test_session_and_priced_cdr_reach_the_emsp(
    backend: CpoBackend, api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    await hub.push_token(hub.token("DRV1", whitelist="ALWAYS"))
    config = {"MeterValueSampleInterval": "1"}
    async with connect(ocpp_url, "CP_SES", connectors=1, config=config) as cp:
        await cp.start_up()
        charging = asyncio.create_task(cp.plug_in_and_charge(1, "DRV1", duration=2.5))
        await hub.wait_for(lambda s: bool(s.sessions))
        # Withdrawn after the start: the session keeps the tariff it started under.
        assert (await api.delete("/api/tariffs/AC1")).status_code == 204
        assert (await charging).accepted
    await hub.wait_for(lambda s: bool(s.cdrs))
    session_pushes = hub.pushes("sessions")
    assert session_pushes[0].method == "PUT"
    assert session_pushes[0].body["status"] == "ACTIVE"
    assert session_pushes[0].body["cdr_token"]["uid"] == "DRV1"
    assert session_pushes[0].body["auth_method"] == "WHITELIST"
    kwhs = [p.body["kwh"] for p in session_pushes if "kwh" in p.body]
    assert kwhs == sorted(kwhs)
    assert len(session_pushes) >= 3, "meter values were pushed as PATCHes"
    session = next(iter(hub.state.sessions.values()))
    assert session["status"] == "COMPLETED"
    assert session["end_date_time"].endswith("Z")
    assert session["location_id"] == "LOC1"
    cdr = hub.state.cdrs[0]
    assert cdr["session_id"] == session["id"]
    assert cdr["cdr_location"]["evse_id"] == "NL*CPO*E1"
    assert cdr["cdr_location"]["connector_standard"] == "IEC_62196_T2"
    assert cdr["tariffs"][0]["id"] == "AC1"
    assert cdr["total_energy"] == pytest.approx(session["kwh"], abs=0.001)
    expected = (Decimal(str(cdr["total_energy"])) * Decimal("0.40")).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == expected
    assert cdr["charging_periods"]
    # Both can be pulled by their owner; the eMSP's Location header is kept.
    since = {"date_from": "2020-01-01T00:00:00Z"}
    assert [s["id"] for s in await hub.get_all("sessions", **since)] == [session["id"]]
    no_date = await hub.call("GET", hub.module_url("sessions"))
    assert no_date.json()["status_code"] == 2001, "date_from is required for sessions"
    assert [c["id"] for c in await hub.get_all("cdrs")] == [cdr["id"]]

    async def location_kept() -> str | None:
        row = await backend.db.fetch_one(select(CdrRow.location_url))
        return row.location_url if row else None

    await eventually(location_kept)
    assert (await location_kept() or "").endswith(f"/cdrs/{cdr['id']}")


async def test_local_tokens_make_no_ocpi_session(
    hub: HubSimulator, api: httpx.AsyncClient, ocpp_url: str
) -> None:
    assert (await api.post("/api/tokens", json={"id_token": "LOCAL1"})).status_code == 201
    async with connect(ocpp_url, "CP_SES", connectors=1) as cp:
        await cp.start_up()
        assert (await cp.plug_in_and_charge(1, "LOCAL1", duration=0.2)).accepted
    assert await hub.get_all("sessions", date_from="2020-01-01T00:00:00Z") == []
    assert hub.pushes("sessions") == []


TIMED = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [{"type": "ENERGY", "price": 0.50, "step_size": 1}],
            "restrictions": {"max_duration": 1},
        },
        {"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]},
    ],
}


async def test_running_session_patches_append_closed_periods_and_cost(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    # The first second is priced apart: a period closes after it.
    assert (await api.put("/api/tariffs/AC1", json=TIMED)).is_success
    await hub.push_token(hub.token("DRV2", whitelist="ALWAYS"))
    config = {"MeterValueSampleInterval": "1"}
    async with connect(ocpp_url, "CP_SES", connectors=1, config=config) as cp:
        await cp.start_up()
        assert (await cp.plug_in_and_charge(1, "DRV2", duration=3.5)).accepted
    await hub.wait_for(lambda s: bool(s.cdrs))
    patches = [p.body for p in hub.pushes("sessions", "PATCH")]
    running = [body for body in patches if "status" not in body]
    assert running, "meter values made PATCHes"
    assert all(body["total_cost"]["excl_vat"] >= 0 for body in running)
    sent = [p["start_date_time"] for body in running for p in body.get("charging_periods", [])]
    assert len(sent) == 1, "the first period, once closed, and only once"
    session = next(iter(hub.state.sessions.values()))
    assert sent[0] == session["start_date_time"]
    costs = [body["total_cost"]["excl_vat"] for body in running]
    assert costs == sorted(costs)


async def test_a_sent_cdr_is_credited_and_billed_again(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    await hub.push_token(hub.token("DRV3", whitelist="ALWAYS"))
    async with connect(ocpp_url, "CP_SES", connectors=1) as cp:
        await cp.start_up()
        assert (await cp.plug_in_and_charge(1, "DRV3", duration=1.0)).accepted
    await hub.wait_for(lambda s: bool(s.cdrs))
    [original] = hub.state.cdrs
    credited = await api.post(f"/api/ocpi/cdrs/{original['id']}/credit", json={"reissue": True})
    assert credited.status_code == 201, credited.text
    await hub.wait_for(lambda s: len(s.cdrs) == 3)
    _, credit, again = hub.state.cdrs
    assert credit["id"] == original["id"] + "-C"
    assert credit["credit"] is True
    assert credit["credit_reference_id"] == original["id"]
    assert credit["total_cost"]["excl_vat"] == -original["total_cost"]["excl_vat"]
    assert credit["total_energy"] == original["total_energy"]
    assert again["id"] == original["id"] + "-2"
    assert "credit" not in again
    assert again["total_cost"] == original["total_cost"]
    assert [c["id"] for c in await hub.get_all("cdrs")] == [c["id"] for c in hub.state.cdrs]
    twice = await api.post(f"/api/ocpi/cdrs/{original['id']}/credit", json={})
    assert twice.status_code == 409
    of_credit = await api.post(f"/api/ocpi/cdrs/{credit['id']}/credit", json={})
    assert of_credit.status_code == 409
    assert (await api.post("/api/ocpi/cdrs/NOPE/credit", json={})).status_code == 404


def register_sample(wh: int) -> dict[str, object]:
    """A MeterValue of the energy register only."""
    value = {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    return {"timestamp": utc_now(), "sampled_value": [value]}


async def test_a_partner_that_was_down_gets_the_latest_progress_not_a_backlog(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    """While a session's last push waits for the partner, no further PATCH is queued for
    it: back again, the partner gets the Session, one PATCH with the energy so far and the
    end, rather than a PATCH per meter value it missed; and the CDR bills it all."""
    await hub.push_token(hub.token("DRV4", whitelist="ALWAYS"))
    async with connect(ocpp_url, "CP_SES", connectors=1) as cp:
        await cp.start_up()
        hub.state.fail_next_pushes = 10**6
        started = await cp.start_transaction(1, "DRV4", meter_start=0)
        await hub.wait_for(lambda s: any(r.method == "PUT" for r in hub.pushes("sessions")))
        for wh in (1000, 2000, 3000, 4000):
            await cp.meter_values(1, [register_sample(wh)])
            await asyncio.sleep(0.2)  # (the charger's sample interval: rounds in between)
        hub.state.fail_next_pushes = 0
        await hub.wait_for(lambda s: any(v.get("kwh") == 4.0 for v in s.sessions.values()))
        await cp.stop_transaction(started.transaction_id, meter_stop=5000)
    await hub.wait_for(lambda s: bool(s.cdrs))
    taken = [(p.method, p.body.get("kwh"), p.body.get("status")) for p in hub.accepted("sessions")]
    assert taken == [("PUT", 0.0, "ACTIVE"), ("PATCH", 4.0, None), ("PATCH", 5.0, "COMPLETED")]
    [cdr] = hub.state.cdrs
    assert cdr["total_energy"] == 5.0
    assert cdr["total_cost"]["excl_vat"] == 2.0

"""Locations: pulled by a partner, pushed to it through the outbox as chargers change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from cpo_backend.app import CpoBackend
from simulators.ocpi_hub import HubSimulator, HubState
from simulators.ocpp16 import connect
from tests.conftest import eventually, make_settings
from tests.e2e.ocpi_support import (
    QUICK_OUTBOX,
    backend_fixture,
    hub_fixture,
    location_body,
    register_hub,
    registered_backend,
)

backend = backend_fixture(ocpi=QUICK_OUTBOX)
hub = hub_fixture()


def evse_status(state: HubState, location_id: str, uid: str) -> str | None:
    location = state.locations.get(location_id, {})
    evse: dict[str, Any] = next((e for e in location.get("evses", []) if e.get("uid") == uid), {})
    status: str | None = evse.get("status")
    return status


async def test_pull_location_evse_and_connector(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    body = location_body(("1", "CP_LOC", 1), ("2", "CP_LOC", 2))
    assert (await api.put("/api/locations/LOC1", json=body)).status_code == 200
    url = hub.module_url("locations")
    location = (await hub.call("GET", f"{url}/LOC1")).json()["data"]
    assert location["country_code"] == "NL"
    assert location["party_id"] == "CPO"
    assert location["coordinates"] == {"latitude": "52.09090", "longitude": "5.12111"}
    assert location["time_zone"] == "Europe/Amsterdam"
    assert [e["status"] for e in location["evses"]] == ["UNKNOWN", "UNKNOWN"]
    assert location["evses"][0]["evse_id"] == "NL*CPO*E1"
    assert location["last_updated"].endswith("Z")
    async with connect(ocpp_url, "CP_LOC", connectors=2) as cp:
        await cp.start_up()
        await cp.status(2, "Charging")

        async def statuses() -> list[str]:
            data = (await hub.call("GET", f"{url}/LOC1")).json()["data"]
            return [e["status"] for e in data["evses"]]

        # EVSE statuses are projected from the event log, just after the charger's commit.
        await eventually(lambda: statuses_are(statuses, ["AVAILABLE", "CHARGING"]))
        await cp.status(0, "Unavailable")
        await eventually(lambda: statuses_are(statuses, ["INOPERATIVE", "INOPERATIVE"]))

    async def offline() -> bool:
        evse = (await hub.call("GET", f"{url}/LOC1/2")).json()["data"]
        return bool(evse["status"] == "UNKNOWN")

    await eventually(offline)
    connector = (await hub.call("GET", f"{url}/LOC1/2/1")).json()["data"]
    assert connector["standard"] == "IEC_62196_T2"
    assert connector["tariff_ids"] == ["AC1"]
    for missing in ("/LOC1/9", "/LOC1/2/9"):
        reply = await hub.call("GET", url + missing)
        assert reply.status_code == 404
        assert reply.json()["status_code"] == 2003


async def test_operator_api_validates_locations(api: httpx.AsyncClient) -> None:
    body: dict[str, Any] = location_body(("1", None, None))
    body["time_zone"] = "Mars/Olympus"
    assert (await api.put("/api/locations/BAD", json=body)).status_code == 422
    body = location_body(("1", None, None))
    body["evses"][0]["evse_id"] = "not an evse id"
    assert (await api.put("/api/locations/BAD", json=body)).status_code == 422
    assert (await api.put("/api/locations/A", json=location_body(("X", None, None)))).is_success
    clash = await api.put("/api/locations/B", json=location_body(("X", None, None)))
    assert clash.status_code == 409


async def test_changes_are_pushed_in_order(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    body = location_body(("1", "CP_PUSH", 1))
    assert (await api.put("/api/locations/LOC1", json=body)).status_code == 200
    await hub.wait_for(lambda s: "LOC1" in s.locations)
    put = hub.pushes("locations", "PUT")[0]
    assert put.path.endswith("/locations/NL/CPO/LOC1")
    assert put.headers["ocpi-from-party-id"] == "CPO"
    assert put.headers["ocpi-to-party-id"] == "MSP"
    assert put.headers["x-request-id"]
    assert put.headers["x-correlation-id"]
    async with connect(ocpp_url, "CP_PUSH", connectors=1) as cp:
        await cp.start_up()
        await hub.wait_for(lambda s: evse_status(s, "LOC1", "1") == "AVAILABLE")
        await cp.status(1, "Charging")
        await hub.wait_for(lambda s: evse_status(s, "LOC1", "1") == "CHARGING")
    await hub.wait_for(lambda s: evse_status(s, "LOC1", "1") == "UNKNOWN")
    patches = hub.pushes("locations", "PATCH")
    assert [p.body["status"] for p in patches] == ["AVAILABLE", "CHARGING", "UNKNOWN"]
    assert all(p.path.endswith("/NL/CPO/LOC1/1") for p in patches)
    assert all(p.body["last_updated"].endswith("Z") for p in patches)
    # Removing the EVSE from the location keeps it, as REMOVED.
    assert (await api.put("/api/locations/LOC1", json=location_body())).status_code == 200
    await hub.wait_for(lambda s: evse_status(s, "LOC1", "1") == "REMOVED")


async def test_failed_pushes_are_retried_until_acknowledged(
    api: httpx.AsyncClient, hub: HubSimulator
) -> None:
    hub.state.fail_next_pushes = 3
    assert (await api.put("/api/locations/L1", json=location_body(("1", None, None)))).is_success
    body = location_body(("1", None, None), ("2", None, None))
    assert (await api.put("/api/locations/L1", json=body)).is_success
    await hub.wait_for(lambda s: len(s.locations.get("L1", {}).get("evses", [])) == 2)
    puts = hub.pushes("locations", "PUT")
    # Three refusals, then the latest PUT taken: the second, queued while the first was
    # being refused, supersedes it (it carries everything the first did). The projector
    # renders a location as it is when it projects the change, so the first PUT may
    # already carry both EVSEs: what counts is what the hub holds in the end.
    assert [p.accepted for p in puts].count(False) == 3
    assert len(hub.accepted("locations", "PUT")[-1].body["evses"]) == 2


async def test_pending_pushes_survive_a_restart(database_url: str) -> None:
    settings = make_settings(database_url, ocpi=QUICK_OUTBOX)
    async with HubSimulator() as hub:
        first = CpoBackend(settings)
        await first.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{first.http_port}") as api:
                await register_hub(api, hub)
                hub.state.fail_next_pushes = 10**6
                body = location_body(("1", None, None))
                assert (await api.put("/api/locations/KEEP", json=body)).is_success
                await hub.wait_for(lambda s: len(s.received) >= 2)
        finally:
            await first.stop()
        hub.state.fail_next_pushes = 0
        second = CpoBackend(settings)
        await second.start()
        try:
            await hub.wait_for(lambda s: "KEEP" in s.locations)
        finally:
            await second.stop()


async def test_operator_sees_and_retries_the_outbox(
    api: httpx.AsyncClient, hub: HubSimulator
) -> None:
    hub.state.fail_next_pushes = 10**6
    assert (await api.put("/api/locations/OB", json=location_body(("1", None, None)))).is_success

    async def failing() -> list[dict[str, object]]:
        rows = (await api.get("/api/ocpi/outbox", params={"state": "pending"})).json()
        return [r for r in rows if r["attempts"] and r["last_error"]]

    await eventually(failing)
    [entry] = [r for r in await failing() if r["object_key"] == "location:OB"]
    assert entry["module"] == "locations"
    assert "body" not in entry or entry["body"] is None
    assert "HTTP 500" in str(entry["last_error"])
    full = (await api.get(f"/api/ocpi/outbox/{entry['id']}")).json()
    assert full["body"]["id"] == "OB"
    hub.state.fail_next_pushes = 0
    assert (await api.post(f"/api/ocpi/outbox/{entry['id']}/retry")).status_code == 200
    await hub.wait_for(lambda s: "OB" in s.locations)

    async def delivered() -> bool:
        rows = (await api.get("/api/ocpi/outbox", params={"state": "delivered"})).json()
        return entry["id"] in [r["id"] for r in rows]

    await eventually(delivered)
    assert (await api.post(f"/api/ocpi/outbox/{entry['id']}/retry")).status_code == 409
    assert (await api.get("/api/ocpi/outbox/999999")).status_code == 404
    assert (await api.get("/api/ocpi/outbox", params={"state": "lost"})).status_code == 422


async def test_a_partner_that_calls_again_is_retried_at_once(database_url: str) -> None:
    """A long backoff does not keep pushes from a partner that is evidently back."""
    ocpi: dict[str, object] = {
        "outbox_base_backoff": 600.0,
        "outbox_max_backoff": 600.0,
        "outbox_poll_interval": 0.1,
    }
    async with registered_backend(database_url, ocpi=ocpi) as (_server, api, hub):
        hub.state.fail_next_pushes = 1
        body = location_body(("1", None, None))
        assert (await api.put("/api/locations/BACK", json=body)).is_success
        await hub.wait_for(lambda s: len(s.received) == 1)  # refused: next try in 10 min
        assert (await hub.call("GET", hub.module_url("locations"))).is_success
        await hub.wait_for(lambda s: "BACK" in s.locations, timeout=5.0)


async def statuses_are(read: Callable[[], Awaitable[list[str]]], expected: list[str]) -> bool:
    return await read() == expected

"""The outbox a hub can rely on: advertised URLs as they are, a later PUT superseding the
pushes queued before it, dead letters for permanent rejections, jittered backoff, the
operator's retry and drop, and per-partner gauges on /metrics.

The hub simulator is the judge: what it accepted is what the partner holds.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cpo_backend.ocpi.outbox import PARALLEL as OUTBOX_PARALLEL
from cpo_backend.ocpi.outbox import backoff, is_permanent
from cpo_backend.ocpi.transport.client import PartnerReply
from simulators.ocpi_hub import HubSimulator, HubState, Received, Refusal
from simulators.ocpp16 import connect
from tests.conftest import eventually
from tests.e2e.ocpi_support import (
    QUICK_OUTBOX,
    backend_fixture,
    hub_fixture,
    location_body,
    register_hub,
)

DEAD_AFTER = 3
backend = backend_fixture(ocpi=QUICK_OUTBOX | {"outbox_dead_letter_attempts": DEAD_AFTER})
hub = hub_fixture()


def named(name: str, *evses: tuple[str, str | None, int | None]) -> dict[str, Any]:
    return location_body(*evses) | {"name": name}


async def put_location(api: httpx.AsyncClient, location_id: str, body: dict[str, Any]) -> None:
    assert (await api.put(f"/api/locations/{location_id}", json=body)).is_success


async def outbox_rows_of(api: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await api.get("/api/ocpi/outbox", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


async def outbox_rows(
    api: httpx.AsyncClient, object_key: str, **params: str
) -> list[dict[str, Any]]:
    return [row for row in await outbox_rows_of(api, **params) if row["object_key"] == object_key]


async def rows_are(api: httpx.AsyncClient, object_key: str, count: int) -> bool:
    return len(await outbox_rows(api, object_key)) == count


def energy_tariff(price: float) -> dict[str, Any]:
    return {
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": price, "step_size": 1}]}],
    }


def evse_status(state: HubState, location_id: str, uid: str) -> str | None:
    evses = state.locations.get(location_id, {}).get("evses", [])
    status: str | None = next((e.get("status") for e in evses if e.get("uid") == uid), None)
    return status


def location_pushes(hub: HubSimulator, location_id: str) -> list[tuple[str, Any]]:
    """The location pushes the hub accepted for one location: (method, name or status)."""
    return [
        (p.method, p.body.get("name") if p.method == "PUT" else p.body.get("status"))
        for p in hub.accepted("locations")
        if f"/NL/CPO/{location_id}" in p.path
    ]


def test_backoff_has_equal_jitter() -> None:
    """Half the doubling ceiling is fixed, the other half drawn."""
    assert backoff(1, 1.0, 600.0, lambda: 0.0) == 0.5
    assert backoff(1, 1.0, 600.0, lambda: 0.5) == 0.75
    assert backoff(3, 1.0, 600.0, lambda: 0.0) == 2.0
    assert backoff(3, 1.0, 600.0, lambda: 0.999) == pytest.approx(4.0, abs=0.01)
    assert backoff(40, 1.0, 600.0, lambda: 0.0) == 300.0
    assert backoff(40, 1.0, 600.0, lambda: 0.999) == pytest.approx(600.0, abs=1.0)


@pytest.mark.parametrize(
    ("http_status", "status_code", "permanent"),
    [
        (400, 2001, True),
        (404, 2003, True),
        (200, 2001, True),
        (200, 2003, True),
        (400, 3000, True),
        (408, 2000, False),
        (429, 2000, False),
        (500, 2001, False),
        (503, 3000, False),
        (200, 3001, False),
    ],
)
def test_permanent_rejections(http_status: int, status_code: int, permanent: bool) -> None:
    reply = PartnerReply(http_status, status_code, "no", None, httpx.Headers())
    assert is_permanent(reply) is permanent


async def test_a_cdr_reaches_a_hub_whose_endpoints_end_in_a_slash(
    api: httpx.AsyncClient, ocpp_url: str
) -> None:
    async with HubSimulator(trailing_slash=True) as slashed:
        await register_hub(api, slashed)
        await put_location(api, "SL", location_body(("1", "CP_SL", 1)))
        await slashed.push_token(slashed.token("DRV_SL"))
        async with connect(ocpp_url, "CP_SL", connectors=1) as cp:
            await cp.start_up()
            assert (await cp.plug_in_and_charge(1, "DRV_SL", duration=0.3)).accepted
        await slashed.wait_for(lambda s: bool(s.cdrs))
        [cdr] = slashed.state.cdrs
        assert cdr["cdr_token"]["uid"] == "DRV_SL"
        [post] = slashed.pushes("cdrs", "POST")
        assert post.path.endswith("/emsp/2.2.1/cdrs/"), "POSTed to the URL as advertised"
        assert slashed.state.sessions[cdr["session_id"]]["status"] == "COMPLETED"
        assert all(p.accepted for p in slashed.state.received)


async def test_a_permanent_rejection_becomes_a_dead_letter_and_stops_blocking(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    refusal = Refusal("locations", 400, 2001, method="PUT", object_id="DL", message="No thanks")
    hub.state.refusals.append(refusal)
    await put_location(api, "DL", named("Refused", ("1", "CP_DL", 1)))

    async def dead() -> list[dict[str, Any]]:
        return await outbox_rows(api, "location:DL", state="dead")

    await eventually(dead)
    [letter] = await dead()
    assert letter["method"] == "PUT"
    assert letter["attempts"] == DEAD_AFTER
    assert letter["rejections"] == DEAD_AFTER
    assert (letter["last_http_status"], letter["last_status_code"]) == (400, 2001)
    assert letter["last_error"] == "HTTP 400, OCPI 2001: No thanks"
    assert len(hub.pushes("locations", "PUT")) == DEAD_AFTER, "not tried after it died"

    # The location's later pushes are not held back by it: the charger's status arrives.
    async with connect(ocpp_url, "CP_DL", connectors=1) as cp:
        await cp.start_up()
        await hub.wait_for(lambda s: evse_status(s, "DL", "1") == "AVAILABLE")
        await cp.status(1, "Charging")
        await hub.wait_for(lambda s: evse_status(s, "DL", "1") == "CHARGING")
    await hub.wait_for(lambda s: evse_status(s, "DL", "1") == "UNKNOWN")

    # Sent now, the old PUT would overwrite those statuses at the hub: refused.
    retried = await api.post(f"/api/ocpi/outbox/{letter['id']}/retry")
    assert retried.status_code == 409
    assert retried.json()["error"] == "outbox_entry_conflict"
    assert "delivered since" in retried.json()["message"]
    dropped = await api.post(f"/api/ocpi/outbox/{letter['id']}/drop")
    assert dropped.status_code == 200
    assert dropped.json()["state"] == "dropped"
    assert dropped.json()["last_http_status"] == 400, "the partner's answer is kept"
    assert (await api.post(f"/api/ocpi/outbox/{letter['id']}/drop")).status_code == 409
    assert (await api.post(f"/api/ocpi/outbox/{letter['id']}/retry")).status_code == 409

    # Once the partner takes the location again, its next change carries it all.
    hub.state.refusals.clear()
    await put_location(api, "DL", named("Accepted", ("1", "CP_DL", 1)))
    await hub.wait_for(lambda s: s.locations.get("DL", {}).get("name") == "Accepted")
    assert location_pushes(hub, "DL")[-1] == ("PUT", "Accepted")


async def test_a_dead_letter_retried_is_sent_in_its_place(
    api: httpx.AsyncClient, hub: HubSimulator
) -> None:
    hub.state.refusals.append(Refusal("locations", 404, 2003, object_id="DR"))
    await put_location(api, "DR", named("Late", ("1", None, None)))

    async def dead() -> list[dict[str, Any]]:
        return await outbox_rows(api, "location:DR", state="dead")

    await eventually(dead)
    [letter] = await dead()
    hub.state.refusals.clear()
    retried = await api.post(f"/api/ocpi/outbox/{letter['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "pending"
    assert retried.json()["rejections"] == 0
    await hub.wait_for(lambda s: s.locations.get("DR", {}).get("name") == "Late")

    async def delivered() -> list[dict[str, Any]]:
        return await outbox_rows(api, "location:DR", state="delivered")

    await eventually(delivered)
    assert [row["id"] for row in await delivered()] == [letter["id"]]
    again = await api.post(f"/api/ocpi/outbox/{letter['id']}/retry")
    assert again.status_code == 409
    assert "is delivered" in again.json()["message"]
    for action in ("retry", "drop"):
        assert (await api.post(f"/api/ocpi/outbox/999999/{action}")).status_code == 404
    assert (await api.get("/api/ocpi/outbox", params={"state": "dead"})).status_code == 200


async def test_transient_refusals_are_retried_without_limit(
    api: httpx.AsyncClient, hub: HubSimulator
) -> None:
    """A 5xx is transient whatever the envelope says: never a dead letter."""
    hub.state.refusals.append(Refusal("locations", 503, 2001, object_id="TR"))
    await put_location(api, "TR", location_body(("1", None, None)))
    await hub.wait_for(lambda s: len(s.received) >= DEAD_AFTER + 3)

    async def tried() -> list[dict[str, Any]]:
        rows = await outbox_rows(api, "location:TR")
        return [row for row in rows if row["attempts"] >= DEAD_AFTER + 2]

    await eventually(tried)
    [row] = await tried()
    assert (row["state"], row["rejections"], row["last_http_status"]) == ("pending", 0, 503)
    hub.state.refusals.clear()
    await hub.wait_for(lambda s: "TR" in s.locations)


async def test_a_later_put_supersedes_the_pushes_queued_before_it(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    hub.state.fail_next_pushes = 10**6
    await put_location(api, "SUP", named("First", ("1", "CP_SUP", 1)))
    async with connect(ocpp_url, "CP_SUP", connectors=1) as cp:
        await cp.start_up()

        async def patch_queued() -> list[dict[str, Any]]:
            return [r for r in await outbox_rows(api, "location:SUP") if r["method"] == "PATCH"]

        await eventually(patch_queued)
        await put_location(api, "SUP", named("Second", ("1", "CP_SUP", 1)))

        async def only_the_latest_put() -> list[dict[str, Any]]:
            pending = await outbox_rows(api, "location:SUP", state="pending")
            return pending if [row["method"] for row in pending] == ["PUT"] else []

        # While the partner still fails, the first PUT and the PATCH are replaced.
        await eventually(only_the_latest_put)
        [latest] = await only_the_latest_put()
        rows = await outbox_rows(api, "location:SUP", state="superseded")
        assert [row["method"] for row in rows][:2] == ["PUT", "PATCH"]
        assert all(row["last_error"] == f"superseded by outbox row {latest['id']}" for row in rows)
        hub.state.fail_next_pushes = 0
        await hub.wait_for(lambda s: s.locations.get("SUP", {}).get("name") == "Second")
        assert location_pushes(hub, "SUP") == [("PUT", "Second")]
        assert evse_status(hub.state, "SUP", "1") == "AVAILABLE", "the PUT carries the status"
        # What comes after the PUT is delivered after it.
        await cp.status(1, "Charging")
        await hub.wait_for(lambda s: evse_status(s, "SUP", "1") == "CHARGING")
    assert location_pushes(hub, "SUP")[:2] == [("PUT", "Second"), ("PATCH", "CHARGING")]


async def test_gauges_show_backlog_and_dead_letters_per_partner(
    api: httpx.AsyncClient, hub: HubSimulator
) -> None:
    [partner] = (await api.get("/api/ocpi/partners")).json()
    label = str(partner["id"])

    async def gauges() -> dict[str, float]:
        text = (await api.get("/metrics")).text
        return {
            sample.name: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name.startswith("cpo_ocpi_outbox_") and sample.labels["partner"] == label
        }

    async def showing(expected: dict[str, float]) -> bool:
        shown = await gauges()
        return all(shown.get(name) == value for name, value in expected.items())

    await eventually(lambda: showing({"cpo_ocpi_outbox_backlog": 0}))
    hub.state.refusals.append(Refusal("locations", 400, 2001, object_id="GONE"))
    await put_location(api, "GONE", location_body(("1", None, None)))
    await eventually(lambda: showing({"cpo_ocpi_outbox_dead_letters": 1}))
    hub.state.fail_next_pushes = 10**6
    await put_location(api, "WAIT1", location_body(("2", None, None)))
    await put_location(api, "WAIT2", location_body(("3", None, None)))
    await eventually(
        lambda: showing({"cpo_ocpi_outbox_backlog": 2, "cpo_ocpi_outbox_dead_letters": 1})
    )

    async def aging() -> bool:
        return (await gauges())["cpo_ocpi_outbox_oldest_pending_seconds"] > 0.2

    await eventually(aging)
    hub.state.fail_next_pushes = 0
    await eventually(
        lambda: showing(
            {
                "cpo_ocpi_outbox_backlog": 0,
                "cpo_ocpi_outbox_oldest_pending_seconds": 0,
                "cpo_ocpi_outbox_dead_letters": 1,
            }
        )
    )


async def test_a_delete_between_two_puts_is_not_jumped(
    api: httpx.AsyncClient, hub: HubSimulator
) -> None:
    """Only the PUT/PATCHes right before a PUT are superseded: a row of another kind
    between them (here a DELETE; in a session's queue, a CDR) keeps its place."""
    hub.state.fail_next_pushes = 10**6
    assert (await api.put("/api/tariffs/TD", json=energy_tariff(0.40))).is_success
    assert (await api.delete("/api/tariffs/TD")).status_code == 204
    assert (await api.put("/api/tariffs/TD", json=energy_tariff(0.50))).is_success
    await eventually(lambda: rows_are(api, "tariff:TD", 3))
    hub.state.fail_next_pushes = 0

    def price(state: HubState) -> float | None:
        elements = state.tariffs.get("TD", {}).get("elements", [])
        return elements[0]["price_components"][0]["price"] if elements else None

    # The projector renders a tariff as it is when it projects the change, so the first
    # PUT may already carry 0.50: wait for all three, not for the price.
    await hub.wait_for(lambda _s: len(hub.accepted("tariffs")) == 3)
    assert [p.method for p in hub.accepted("tariffs")] == ["PUT", "DELETE", "PUT"]
    assert price(hub.state) == 0.50


async def test_a_cdr_does_not_wait_behind_a_backlog_of_other_pushes(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    """A partner that was down, and is slow to take locations, has a backlog of them
    larger than the deliveries under way at once; the CDR of a session that ends then
    goes out at once, with its session's pushes before it, rather than after the backlog
    (the CPO is paid from CDRs, not from location updates)."""
    assert (await api.put("/api/tariffs/AC1", json=energy_tariff(0.5))).is_success
    await put_location(api, "PAID", location_body(("1", "CP_PAID", 1)))
    await hub.wait_for(lambda s: "PAID" in s.locations)
    await hub.push_token(hub.token("DRVP", whitelist="ALWAYS"))
    hub.state.fail_next_pushes = 10**6
    backlog = [f"SLOW{n}" for n in range(OUTBOX_PARALLEL)]
    for location_id in backlog:
        await put_location(api, location_id, location_body((location_id, None, None)))
    async with connect(ocpp_url, "CP_PAID", connectors=1) as cp:
        await cp.start_up()
        started = await cp.start_transaction(1, "DRVP", meter_start=0)

        async def session_queued() -> bool:
            rows = await outbox_rows_of(api, state="pending")
            return any(row["module"] == "sessions" for row in rows)

        await eventually(session_queued)
        # Back, but each location push now takes a second: the backlog fills every slot.
        hub.state.push_delays["locations"] = 1.0
        hub.state.fail_next_pushes = 0
        await cp.stop_transaction(started.transaction_id, meter_stop=1000)
    await hub.wait_for(lambda s: all(location_id in s.locations for location_id in backlog))

    def taken(push: Received) -> str:
        return "CDR" if push.path.endswith("/cdrs") else push.path.rsplit("/", 1)[-1]

    arrived = [
        taken(push)
        for push in hub.state.received
        if push.accepted and (push.path.endswith("/cdrs") or "/SLOW" in push.path)
    ]
    assert arrived.index("CDR") == 0, arrived
    [cdr] = hub.state.cdrs
    assert (cdr["total_energy"], cdr["total_cost"]["excl_vat"]) == (1.0, 0.5)

"""The operator API: keys, stations, tokens, transaction search, message log, operations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from ocpp.exceptions import OCPPError

from simulators.ocpp16 import connect
from tests.conftest import eventually
from tests.e2e.helpers import (
    assert_wire_timestamp,
    create_token,
    get_json,
    register_station,
    running_with,
    transactions,
)


async def test_api_keys_protect_the_api_but_not_health(database_url: str) -> None:
    async with running_with(database_url, http={"api_keys": ["key-one", "key-two"]}) as server:
        api = server.api
        refused = await api.get("/api/stations")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert (await api.get("/api/stations", headers={"X-API-Key": "nope"})).status_code == 401
        assert (
            await api.get("/api/stations", headers={"Authorization": "Bearer nope"})
        ).status_code == 401
        assert (
            await api.post("/api/tokens", json={"id_token": "T"}, headers={"X-API-Key": "x"})
        ).status_code == 401
        with_header = await api.get("/api/stations", headers={"X-API-Key": "key-one"})
        assert (with_header.status_code, with_header.json()) == (200, [])
        bearer = await api.get("/api/tokens", headers={"Authorization": "Bearer key-two"})
        assert (bearer.status_code, bearer.json()) == (200, [])
        assert (await api.get("/health")).status_code == 200


async def test_station_registration_lifecycle(api: httpx.AsyncClient) -> None:
    created = await register_station(api, "CP_CRUD", password="s3cret-pass")
    assert (created["id"], created["registration"], created["has_password"]) == (
        "CP_CRUD",
        "Accepted",
        True,
    )
    assert (created["online"], created["auto_registered"]) == (False, False)
    assert_wire_timestamp(created["created_at"])
    duplicate = await api.post("/api/stations", json={"id": "CP_CRUD"})
    assert duplicate.status_code == 409
    bad_bodies = (
        {"id": "a/b"},
        {"id": ""},
        {"id": "a:b"},
        {"id": "X" * 49},
        {"id": "CP_X", "password": "short"},
    )
    for bad in bad_bodies:
        assert (await api.post("/api/stations", json=bad)).status_code == 422, bad
    assert (await api.get("/api/stations/CP_NOWHERE")).status_code == 404

    patched = await api.patch(
        "/api/stations/CP_CRUD", json={"registration": "Rejected", "clear_password": True}
    )
    assert patched.status_code == 200
    assert (patched.json()["registration"], patched.json()["has_password"]) == ("Rejected", False)
    assert (
        await api.patch("/api/stations/CP_NOWHERE", json={"registration": "Pending"})
    ).status_code == 404
    listed = await get_json(api, "/api/stations")
    assert [s["id"] for s in listed] == ["CP_CRUD"]
    details = await get_json(api, "/api/stations/CP_CRUD")
    assert details["connectors"] == []

    assert (await api.delete("/api/stations/CP_CRUD")).status_code == 204
    assert (await api.get("/api/stations/CP_CRUD")).status_code == 404
    assert (await api.delete("/api/stations/CP_CRUD")).status_code == 404


async def test_station_with_history_can_be_deleted(ocpp_url: str, api: httpx.AsyncClient) -> None:
    async with connect(ocpp_url, "CP_OLD") as cp:
        await cp.start_up()
        started = await cp.start_transaction(1, "T", meter_start=0)
        await cp.meter_values(1)
        await cp.stop_transaction(started.transaction_id, meter_stop=5)
    assert (await api.delete("/api/stations/CP_OLD")).status_code == 204
    assert (await api.get(f"/api/transactions/{started.transaction_id}")).status_code == 404
    assert await transactions(api, station_id="CP_OLD") == []


async def test_token_lifecycle(ocpp_url: str, api: httpx.AsyncClient) -> None:
    created = await create_token(api, "TOK-1")
    assert (created["token_type"], created["status"], created["expiry_date"]) == (
        "ISO14443",
        "Accepted",
        None,
    )
    assert_wire_timestamp(created["updated_at"])
    await create_token(api, "TOK-2", token_type="Central", group_id="G")
    await create_token(api, "TOK-3", expiry_date="2030-06-01T12:00:00.123456+02:00")
    assert (await api.post("/api/tokens", json={"id_token": "TOK-1"})).status_code == 409
    naive = await api.post(
        "/api/tokens", json={"id_token": "T-N", "expiry_date": "2030-01-01T00:00:00"}
    )
    assert naive.status_code == 422
    third = await get_json(api, "/api/tokens/TOK-3")
    assert third["expiry_date"] == "2030-06-01T10:00:00.123Z"
    assert [t["id_token"] for t in await get_json(api, "/api/tokens", limit=2)] == [
        "TOK-1",
        "TOK-2",
    ]
    assert [t["id_token"] for t in await get_json(api, "/api/tokens", offset=2)] == ["TOK-3"]

    async with connect(ocpp_url, "CP_TOK") as cp:
        await cp.boot()
        assert (await cp.authorize("TOK-1")).id_tag_info["status"] == "Accepted"
        blocked = await api.patch("/api/tokens/TOK-1", json={"status": "Blocked"})
        assert (blocked.status_code, blocked.json()["status"]) == (200, "Blocked")
        assert (await cp.authorize("TOK-1")).id_tag_info["status"] == "Blocked"
        assert (await api.delete("/api/tokens/TOK-1")).status_code == 204
        assert (await cp.authorize("TOK-1")).id_tag_info["status"] == "Invalid"
    assert (await api.get("/api/tokens/TOK-1")).status_code == 404
    assert (await api.delete("/api/tokens/TOK-1")).status_code == 404
    assert (await api.patch("/api/tokens/TOK-1", json={"status": "Accepted"})).status_code == 404


async def test_transaction_search(ocpp_url: str, api: httpx.AsyncClient) -> None:
    async with connect(ocpp_url, "CP_F1") as one, connect(ocpp_url, "CP_F2") as two:
        await one.boot()
        await two.boot()
        ids = [
            (
                await one.start_transaction(1, "A", meter_start=0, timestamp="2026-01-01T10:00:00Z")
            ).transaction_id,
            (
                await one.start_transaction(2, "B", meter_start=0, timestamp="2026-01-01T11:00:00Z")
            ).transaction_id,
            (
                await two.start_transaction(1, "C", meter_start=0, timestamp="2026-01-01T11:30:00Z")
            ).transaction_id,
            (
                await two.start_transaction(2, "D", meter_start=0, timestamp="2026-01-01T12:00:00Z")
            ).transaction_id,
        ]
        await two.stop_transaction(ids[3], meter_stop=10)

    async def found(**params: Any) -> list[int]:
        return [t["id"] for t in await transactions(api, **params)]

    newest_first = ids[::-1]
    assert await found() == newest_first
    assert await found(station_id="CP_F1") == [ids[1], ids[0]]
    assert await found(status="completed") == [ids[3]]
    assert await found(status="active", station_id="CP_F2") == [ids[2]]
    assert await found(started_from="2026-01-01T11:00:00Z", started_to="2026-01-01T12:00:00Z") == [
        ids[2],
        ids[1],
    ]
    assert await found(started_from="2026-01-01T12:00:00.000Z") == [ids[3]]
    assert await found(started_to="2026-01-01T10:00:00Z") == []
    assert await found(started_from="2026-01-01T12:30:00+01:00") == [ids[3], ids[2]]
    assert await found(limit=2) == newest_first[:2]
    assert await found(offset=1, limit=2) == newest_first[1:3]
    assert await found(offset=4) == []
    for bad in ({"status": "paused"}, {"started_from": "2026-01-01T11:00:00"}, {"limit": 0}):
        assert (await api.get("/api/transactions", params=bad)).status_code == 422, bad
    [first] = await transactions(api, station_id="CP_F1", limit=1, offset=1)
    for key in ("started_at", "start_received_at"):
        assert_wire_timestamp(first[key])
    assert first["started_at"] == "2026-01-01T10:00:00.000Z"


async def test_message_log_records_frames_both_ways_and_pages(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CP_LOG") as cp:
        await cp.boot()
        await cp.heartbeat()
        await cp.authorize("VISIBLE-TAG")
        cleared = await api.post("/api/stations/CP_LOG/commands/clear-cache", json={})
        assert cleared.status_code == 200

    async def log() -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = await get_json(api, "/api/stations/CP_LOG/messages")
        return entries if len(entries) >= 8 else []

    await eventually(log)
    entries = await log()
    assert len(entries) == 8
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids, reverse=True)
    flow = [(e["direction"], e["message_type"], e["action"]) for e in reversed(entries)]
    assert flow == [
        ("in", 2, "BootNotification"),
        ("out", 3, "BootNotification"),
        ("in", 2, "Heartbeat"),
        ("out", 3, "Heartbeat"),
        ("in", 2, "Authorize"),
        ("out", 3, "Authorize"),
        ("out", 2, "ClearCache"),
        ("in", 3, "ClearCache"),
    ]
    boot_in, boot_out = entries[-1], entries[-2]
    assert boot_in["unique_id"] == boot_out["unique_id"]
    assert '"chargePointVendor":"CPO-Sim"' in boot_in["payload"].replace(" ", "")
    assert any("VISIBLE-TAG" in e["payload"] for e in entries)
    for entry in entries:
        assert_wire_timestamp(entry["logged_at"])

    page_one = await get_json(api, "/api/stations/CP_LOG/messages", limit=3)
    page_two = await get_json(
        api, "/api/stations/CP_LOG/messages", limit=3, before_id=page_one[-1]["id"]
    )
    assert [e["id"] for e in page_one + page_two] == ids[:6]
    assert (await api.get("/api/stations/CP_NONE/messages")).status_code == 404


async def test_message_log_can_redact_id_tokens(database_url: str) -> None:
    async with running_with(database_url, logging={"redact_id_tokens": True}) as server:
        await create_token(server.api, "SECRET-TAG", group_id="SECRET-GROUP")
        async with connect(server.ocpp_url, "CP_PRIVATE") as cp:
            await cp.boot()
            assert (await cp.authorize("SECRET-TAG")).id_tag_info["status"] == "Accepted"
            await cp.start_transaction(1, "SECRET-TAG", meter_start=0)

        async def log() -> list[dict[str, Any]]:
            entries: list[dict[str, Any]] = await get_json(
                server.api, "/api/stations/CP_PRIVATE/messages"
            )
            return entries if len(entries) >= 6 else []

        await eventually(log)
        payloads = [e["payload"] for e in await log()]
        assert not any("SECRET" in p for p in payloads), payloads
        assert sum('"idTag":"***"' in p.replace(" ", "") for p in payloads) == 2
        assert sum('"parentIdTag":"***"' in p.replace(" ", "") for p in payloads) == 2
        # Only the log is redacted: the transaction keeps the real token.
        [stored] = await transactions(server.api, station_id="CP_PRIVATE")
        assert stored["id_token"] == "SECRET-TAG"


async def test_health_metrics_and_docs(ocpp_url: str, api: httpx.AsyncClient) -> None:
    health = await api.get("/health")
    assert (health.status_code, health.json()) == (
        200,
        {"status": "ok", "database": "ok", "connected_stations": 0},
    )
    async with connect(ocpp_url, "CP_OPS") as cp:
        await cp.boot()
        await cp.heartbeat()
        with pytest.raises(OCPPError):
            await cp.call_raw("Authorize", {})
    metrics = await api.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'ocpp_call_seconds_count{action="Heartbeat"} 1.0' in metrics.text
    assert 'ocpp_call_seconds_count{action="BootNotification"} 1.0' in metrics.text
    assert 'ocpp_call_errors_total{action="Authorize",code="ProtocolError"} 1.0' in metrics.text
    docs = await api.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    schema = await get_json(api, "/openapi.json")
    remote_start = schema["paths"]["/api/stations/{station_id}/commands/remote-start"]["post"]
    assert "requestBody" in remote_start
    assert "/api/transactions/{transaction_id}/force-close" in schema["paths"]
    # Typed answers and the one error body are in the schema.
    answer = remote_start["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["$ref"].endswith("/Acknowledgement")
    assert remote_start["responses"]["409"]["content"]["application/json"]["schema"][
        "$ref"
    ].endswith("/ErrorBody")
    assert set(schema["components"]["schemas"]["ErrorBody"]["required"]) == {"error", "message"}


async def test_errors_about_transactions_say_what_is_wrong(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CP_ENDED") as cp:
        await cp.boot()
        started = await cp.start_transaction(1, "TAG-ENDED", meter_start=0)
        await cp.stop_transaction(started.transaction_id, meter_stop=100)
        transaction_id = started.transaction_id
        for action in ("remote-stop", "force-close"):
            refused = await api.post(f"/api/transactions/{transaction_id}/{action}", json={})
            assert refused.status_code == 409
            body = refused.json()
            assert (body["error"], body["transaction"]) == ("transaction_finished", transaction_id)
            assert body["message"].startswith(f"transaction {transaction_id} ended at 20")
            assert body["message"].endswith("(completed): it can no longer be stopped")
    missing = await api.post("/api/transactions/999999/force-close", json={})
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "transaction_not_found",
        "message": "transaction 999999 not found",
        "transaction": 999999,
    }

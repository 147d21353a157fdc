"""The transaction integrity rules: replayed starts, one active transaction per connector,
orphan and repeated stops, reboots, force close, late meter values, and a server restart
in the middle of a transaction."""

from __future__ import annotations

from decimal import Decimal

import httpx

from simulators.ocpp16 import ChargePoint16, connect
from tests.conftest import make_settings
from tests.e2e.helpers import (
    create_token,
    minutes_ago,
    running,
    station,
    transaction,
    transactions,
)


async def test_replayed_start_returns_the_same_transaction(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "DRIVER-X")
    at = minutes_ago(3)
    async with connect(ocpp_url, "CP_REPLAY") as cp:
        await cp.boot()
        first = await cp.start_transaction(1, "DRIVER-X", meter_start=700, timestamp=at)
        # The charger lost our answer and sends the very same start again.
        again = await cp.start_transaction(1, "DRIVER-X", meter_start=700, timestamp=at)
    assert again.transaction_id == first.transaction_id
    assert again.id_tag_info["status"] == "Accepted"
    [stored] = await transactions(api, station_id="CP_REPLAY")
    assert (stored["id"], stored["status"]) == (first.transaction_id, "active")


async def test_new_start_on_a_busy_connector_supersedes_the_old_one(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CP_BUSY") as cp:
        await cp.boot()
        old = await cp.start_transaction(1, "DRIVER-1", meter_start=100, timestamp=minutes_ago(5))
        other = await cp.start_transaction(2, "DRIVER-2", meter_start=0, timestamp=minutes_ago(4))
        new = await cp.start_transaction(1, "DRIVER-3", meter_start=900, timestamp=minutes_ago(1))
    assert len({old.transaction_id, other.transaction_id, new.transaction_id}) == 3
    closed = await transaction(api, old.transaction_id)
    assert (closed["status"], closed["closed_by"]) == ("completed", "superseded")
    assert "new transaction" in closed["close_note"]
    assert closed["stop_reason"] is None
    assert Decimal(closed["meter_stop_wh"]) == 100  # the last reading we had
    assert (await transaction(api, new.transaction_id))["status"] == "active"
    assert (await transaction(api, other.transaction_id))["status"] == "active"
    active = await transactions(api, station_id="CP_BUSY", status="active")
    assert {t["id"] for t in active} == {new.transaction_id, other.transaction_id}


async def test_stop_for_an_unknown_transaction_is_kept_as_orphan(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    at = minutes_ago(1)
    async with connect(ocpp_url, "CP_ORPHAN") as cp:
        await cp.boot()
        answer = await cp.stop_transaction(
            424242, meter_stop=5000, id_tag="WHO", timestamp=at, reason="PowerLoss"
        )
        repeated = await cp.stop_transaction(424242, meter_stop=5000, id_tag="WHO", timestamp=at)
    assert answer.id_tag_info == {"status": "Invalid"}
    assert repeated.id_tag_info == {"status": "Invalid"}
    [orphan] = await transactions(api, status="orphan")
    assert orphan["station_id"] == "CP_ORPHAN"
    assert orphan["charger_transaction_id"] == "424242"
    assert (orphan["stop_reason"], orphan["stop_id_token"]) == ("PowerLoss", "WHO")
    assert Decimal(orphan["meter_stop_wh"]) == 5000
    assert orphan["stopped_at"] == at
    assert orphan["close_note"]
    assert len(await transactions(api, station_id="CP_ORPHAN")) == 1


async def test_repeated_stop_is_idempotent(ocpp_url: str, api: httpx.AsyncClient) -> None:
    await create_token(api, "DRIVER-I")
    async with connect(ocpp_url, "CP_TWICE") as cp:
        await cp.boot()
        started = await cp.start_transaction(1, "DRIVER-I", meter_start=0, timestamp=minutes_ago(3))
        end = [{"timestamp": minutes_ago(1), "sampled_value": [{"value": "800"}]}]
        at = minutes_ago(1)
        first, second = [
            await cp.stop_transaction(
                started.transaction_id,
                meter_stop=800,
                id_tag="DRIVER-I",
                timestamp=at,
                transaction_data=end,
            )
            for _ in range(2)
        ]
    assert first.id_tag_info == second.id_tag_info == {"status": "Accepted"}
    stored = await transaction(api, started.transaction_id)
    assert (stored["status"], Decimal(stored["meter_stop_wh"])) == ("completed", Decimal(800))
    assert len(stored["meter_values"]) == 1  # the repeated transactionData is not stored twice
    assert len(await transactions(api, station_id="CP_TWICE")) == 1


async def test_reboot_reconciles_and_the_late_stop_records_the_real_values(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CP_REBOOT") as cp:
        await cp.boot()
        started = await cp.start_transaction(
            1, "DRIVER-9", meter_start=1000, timestamp=minutes_ago(10)
        )
        await cp.meter_values(
            1, [{"timestamp": minutes_ago(5), "sampled_value": [{"value": "1800"}]}]
        )
        # The charger reboots and says nothing of its transaction: we close it ourselves.
        assert (await cp.boot()).status == "Accepted"
        reconciled = await transaction(api, started.transaction_id)
        assert (reconciled["status"], reconciled["closed_by"]) == ("completed", "reconciled")
        assert Decimal(reconciled["meter_stop_wh"]) == 1800
        assert reconciled["stop_reason"] is None
        assert "rebooted" in reconciled["close_note"]
        # Then its queued StopTransaction arrives, with what really happened.
        stopped_at = minutes_ago(4)
        await cp.stop_transaction(
            started.transaction_id, meter_stop=2100, timestamp=stopped_at, reason="Reboot"
        )
    final = await transaction(api, started.transaction_id)
    assert Decimal(final["meter_stop_wh"]) == 2100
    assert (final["stop_reason"], final["stopped_at"]) == ("Reboot", stopped_at)
    assert final["closed_by"] == "reconciled"
    assert "stop arrived" in final["close_note"]


async def test_force_close_by_the_operator(ocpp_url: str, api: httpx.AsyncClient) -> None:
    async with connect(ocpp_url, "CP_STUCK") as cp:
        await cp.boot()
        started = await cp.start_transaction(1, "DRIVER-F", meter_start=50)
    path = f"/api/transactions/{started.transaction_id}/force-close"
    closed = await api.post(path, json={"note": "charger replaced"})
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["status"], body["closed_by"], body["close_note"]) == (
        "completed",
        "force_closed",
        "charger replaced",
    )
    assert Decimal(body["meter_stop_wh"]) == 50
    assert (await api.post(path, json={})).status_code == 409
    assert (await api.post("/api/transactions/987654/force-close", json={})).status_code == 404
    assert (await transaction(api, started.transaction_id))["closed_by"] == "force_closed"


async def test_meter_values_after_the_stop_are_kept_and_flagged(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CP_LATE") as cp:
        await cp.boot()
        started = await cp.start_transaction(1, "DRIVER-L", meter_start=0, timestamp=minutes_ago(3))
        tid = started.transaction_id
        await cp.meter_values(
            1, [{"timestamp": minutes_ago(2), "sampled_value": [{"value": "300"}]}]
        )
        await cp.stop_transaction(tid, meter_stop=400, timestamp=minutes_ago(1))
        await cp.meter_values(
            1,
            [{"timestamp": minutes_ago(1.5), "sampled_value": [{"value": "350"}]}],
            transaction_id=tid,
        )
    stored = await transaction(api, tid)
    flags = sorted((Decimal(v["value"]), v["after_stop"]) for v in stored["meter_values"])
    assert flags == [(Decimal(300), False), (Decimal(350), True)]
    assert Decimal(stored["meter_stop_wh"]) == 400
    assert Decimal(stored["last_meter_wh"]) == 300


async def test_server_restart_in_the_middle_of_a_transaction_loses_nothing(
    database_url: str,
) -> None:
    settings = make_settings(database_url)
    cp = ChargePoint16("CP_RESTART", connectors=1, config={"MeterValueSampleInterval": "1"})
    try:
        async with running(settings) as first:
            await create_token(first.api, "DRIVER-RS")
            await cp.open(first.ocpp_url)
            await cp.start_up()
            started = await cp.start_transaction(
                1, "DRIVER-RS", meter_start=10_000, timestamp=minutes_ago(3)
            )
            tid = started.transaction_id
            await cp.meter_values(
                1, [{"timestamp": minutes_ago(2), "sampled_value": [{"value": "10500"}]}]
            )
        # The server went away with a close frame; the charger keeps charging meanwhile.
        assert await cp.wait_closed() == 1001
        async with running(settings) as second:
            before = await transaction(second.api, tid)
            assert (before["status"], Decimal(before["last_meter_wh"])) == (
                "active",
                Decimal(10_500),
            )
            assert (await station(second.api, "CP_RESTART"))["online"] is False
            await cp.disconnect()
            await cp.open(second.ocpp_url)  # a new process, a new port
            await cp.meter_values(
                1, [{"timestamp": minutes_ago(1), "sampled_value": [{"value": "11000"}]}]
            )
            stopped_at = minutes_ago(0.5)
            stop = await cp.stop_transaction(
                tid, meter_stop=11_200, id_tag="DRIVER-RS", timestamp=stopped_at
            )
            assert stop.id_tag_info["status"] == "Accepted"
            after = await transaction(second.api, tid)
            assert (await station(second.api, "CP_RESTART"))["online"] is True
            assert len(await transactions(second.api, station_id="CP_RESTART")) == 1
    finally:
        await cp.close()
    assert after["status"] == "completed"
    assert after["closed_by"] is None
    assert (Decimal(after["meter_start_wh"]), Decimal(after["meter_stop_wh"])) == (
        Decimal(10_000),
        Decimal(11_200),
    )
    assert (after["stop_reason"], after["stopped_at"]) == ("Local", stopped_at)
    values = [Decimal(v["value"]) for v in after["meter_values"]]
    assert values == [10_500, 11_000]
    assert [v["after_stop"] for v in after["meter_values"]] == [False, False]

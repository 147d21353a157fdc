"""OCPP 2.0.1 remote control (F), availability (G), meter values (J), data transfer (P)
through the version-neutral command service, and the boot-time settling of transactions."""

from __future__ import annotations

from typing import Any

import httpx

from simulators.ocpp201 import connect
from tests.conftest import eventually
from tests.e2e.helpers import command, create_token, events, station, transactions

VARIABLES = {("SampledDataCtrlr", "TxUpdatedInterval"): "1"}


async def test_remote_start_carries_a_charging_profile_as_2_0_1_writes_it(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    profile = {
        "id": 9,
        "stack_level": 0,
        "purpose": "tx",
        "kind": "absolute",
        "schedule": {
            "rate_unit": "W",
            "periods": [{"start": 0, "limit": "11000"}],
            "start_schedule": "2026-12-08T10:00:00Z",
        },
    }
    async with connect(ocpp_url, "CS_PROFILE", variables=VARIABLES) as cs:
        await cs.start_up()
        started = await command(
            api,
            "CS_PROFILE",
            "remote-start",
            {"id_token": "PROFILED", "evse_id": 1, "charging_profile": profile},
        )
        assert started.json()["status"] == "Accepted"
        assert (await cs.wait_for("RequestStartTransaction"))["chargingProfile"] == {
            "id": 9,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {
                    "id": 9,
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
                    "startSchedule": "2026-12-08T10:00:00.000Z",
                }
            ],
        }


async def test_remote_start_and_stop(ocpp_url: str, api: httpx.AsyncClient) -> None:
    await create_token(api, "REMOTE-201")
    async with connect(ocpp_url, "CS_REMOTE", variables=VARIABLES) as cs:
        await cs.start_up()
        started = await command(
            api,
            "CS_REMOTE",
            "remote-start",
            {"id_token": "REMOTE-201", "evse_id": 2, "remote_start_id": 77},
        )
        assert started.json()["status"] == "Accepted"
        request = await cs.wait_for("RequestStartTransaction")
        assert request == {
            "idToken": {"idToken": "REMOTE-201", "type": "Central"},
            "remoteStartId": 77,
            "evseId": 2,
        }
        await cs.wait_sent("TransactionEvent")
        [active] = await transactions(api, station_id="CS_REMOTE", status="active")
        assert active["evse_id"] == 2
        assert active["id_token"] == "REMOTE-201"
        stopped = await command(api, "CS_REMOTE", "remote-stop", {"transaction_id": active["id"]})
        assert stopped.json()["status"] == "Accepted"
        assert (await cs.wait_for("RequestStopTransaction")) == {
            "transactionId": active["charger_transaction_id"]
        }
        await cs.wait_idle()
    [done] = await transactions(api, station_id="CS_REMOTE")
    assert done["status"] == "completed"
    assert done["stop_reason"] == "Remote"


async def test_station_commands(ocpp_url: str, api: httpx.AsyncClient) -> None:
    async with connect(ocpp_url, "CS_CMD") as cs:
        await cs.start_up()
        unlock = await command(api, "CS_CMD", "unlock-connector", {"evse_id": 1})
        assert unlock.json()["status"] == "Unlocked"
        assert await cs.wait_for("UnlockConnector") == {"evseId": 1, "connectorId": 1}

        cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
            ({"operative": False, "evse_id": 2}, {"evse": {"id": 2}}),
            (
                {"operative": True, "evse_id": 2, "connector_id": 1},
                {"evse": {"id": 2, "connectorId": 1}},
            ),
            ({"operative": True}, {}),
        ]
        for body, sent in cases:
            changed = await command(api, "CS_CMD", "change-availability", body)
            assert changed.json()["status"] == "Accepted"
            request = await cs.wait_for("ChangeAvailability")
            assert request == {
                "operationalStatus": "Operative" if body["operative"] else "Inoperative",
                **sent,
            }
        await cs.wait_sent("StatusNotification")

        trigger = await command(
            api, "CS_CMD", "trigger-message", {"message": "StatusNotification", "evse_id": 1}
        )
        assert trigger.json()["status"] == "Accepted"
        cs.catch_up()
        await cs.wait_idle()

        assert (await command(api, "CS_CMD", "clear-cache")).json()["status"] == "Accepted"
        transfer = await command(
            api, "CS_CMD", "data-transfer", {"vendor_id": "com.example", "data": "ping"}
        )
        assert transfer.json() == {"status": "Accepted", "data": "ping"}
        status = await command(api, "CS_CMD", "get-transaction-status", {})
        assert status.json() == {"ongoing": None, "messages_in_queue": False}

        await cs.meter_values(1)
        await cs.heartbeat()
        answer = await cs.data_transfer("com.example", "hello", "data")
        assert answer.status == "UnknownVendorId"
    details = await station(api, "CS_CMD")
    connectors = {(c["evse_id"], c["connector_id"]): c for c in details["connectors"]}
    assert set(connectors) == {(1, 1), (2, 1)}
    assert all(c["status"] == "Available" for c in connectors.values())
    assert any(e["kind"] == "DataTransfer" for e in await events(api, "CS_CMD"))


async def test_boot_closes_only_what_the_station_no_longer_runs(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async def by_charger_id() -> dict[str, dict[str, Any]]:
        found = await transactions(api, station_id="CS_SETTLE")
        return {t["charger_transaction_id"]: t for t in found}

    async with connect(ocpp_url, "CS_SETTLE") as cs:
        await cs.start_up()
        await cs.transaction_event(1, "Started", "Authorized", charging_state="Charging")
        await cs.transaction_event(2, "Started", "Authorized", charging_state="Charging")
        ongoing, gone = cs.evse(1).transaction_id, cs.evse(2).transaction_id
        assert ongoing is not None
        assert gone is not None
        # Messages still queued: nothing may be closed, their Ended events will come.
        cs.override("GetTransactionStatus", {"messagesInQueue": True})
        await cs.boot()
        await cs.wait_for("GetTransactionStatus")
        await cs.wait_for("GetTransactionStatus")
        cs.restore("GetTransactionStatus")
        assert all(t["status"] == "active" for t in (await by_charger_id()).values())
        # Nothing queued: EVSE 2's transaction is over, EVSE 1's still runs.
        cs.evse(2).transaction_id = None
        await cs.boot()
        await cs.wait_for("GetTransactionStatus")
        await cs.wait_for("GetTransactionStatus")

        async def settled() -> bool:
            closed_by = (await by_charger_id())[gone]["closed_by"]
            return bool(closed_by == "reconciled")

        await eventually(settled)
        assert (await by_charger_id())[ongoing]["status"] == "active"

"""Every command from the operator to a 1.6 charger, through the API and from Python,
answered with what the charger said, and the errors when it cannot be."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from ocpp.exceptions import InternalError

from cpo_backend.app import CpoBackend
from cpo_backend.domain import commands as c
from simulators.ocpp16 import ChargePoint16, connect
from tests.conftest import eventually
from tests.e2e.helpers import (
    command,
    create_token,
    events,
    iso,
    register_station,
    running_with,
    station,
    transaction,
)

CP = "CP_CMD"


@pytest.fixture
async def cp(ocpp_url: str, api: httpx.AsyncClient) -> AsyncIterator[ChargePoint16]:
    await create_token(api, "DRIVER-R")
    async with connect(ocpp_url, CP, connectors=2, config={"MeterValueSampleInterval": "1"}) as sim:
        await sim.start_up()
        yield sim


async def run(api: httpx.AsyncClient, name: str, body: dict[str, Any] | None = None) -> Any:
    """Send command ``name`` to the test charger; the answer, which must be a 200."""
    response = await command(api, CP, name, body)
    assert response.status_code == 200, response.text
    return response.json()


# A transaction's limit as the API takes it: the neutral charging profile.
PROFILE = {
    "id": 7,
    "stack_level": 1,
    "purpose": "tx",
    "kind": "relative",
    "schedule": {
        "rate_unit": "A",
        "periods": [{"start": 0, "limit": "16"}, {"start": 600, "limit": "7.5", "phases": 1}],
        "duration": 3600,
    },
}


async def test_remote_start_carries_a_charging_profile_as_1_6_writes_it(
    cp: ChargePoint16, api: httpx.AsyncClient
) -> None:
    answer = await run(
        api, "remote-start", {"id_token": "DRIVER-P", "evse_id": 1, "charging_profile": PROFILE}
    )
    assert answer["status"] == "Accepted"
    assert (await cp.wait_for("RemoteStartTransaction"))["chargingProfile"] == {
        "chargingProfileId": 7,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 16},
                {"startPeriod": 600, "limit": 7.5, "numberPhases": 1},
            ],
            "duration": 3600,
        },
    }


async def test_remote_start_then_remote_stop_by_our_transaction_id(
    cp: ChargePoint16, api: httpx.AsyncClient
) -> None:
    answer = await run(api, "remote-start", {"id_token": "DRIVER-R", "evse_id": 2})
    assert answer == {"status": "Accepted", "reason": None}
    assert await cp.wait_for("RemoteStartTransaction") == {"idTag": "DRIVER-R", "connectorId": 2}
    started = await cp.wait_sent("StartTransaction")
    transaction_id = started.response.transaction_id
    stored = await transaction(api, transaction_id)
    assert (stored["status"], stored["evse_id"], stored["id_token"]) == ("active", 2, "DRIVER-R")
    await cp.wait_sent("MeterValues")

    stop = await api.post(f"/api/transactions/{transaction_id}/remote-stop")
    assert (stop.status_code, stop.json()["status"]) == (200, "Accepted")
    assert await cp.wait_for("RemoteStopTransaction") == {"transactionId": transaction_id}
    await cp.wait_sent("StopTransaction")
    stopped = await transaction(api, transaction_id)
    assert (stopped["status"], stopped["stop_reason"]) == ("completed", "Remote")
    assert Decimal(stopped["meter_stop_wh"]) >= Decimal(stopped["meter_start_wh"])
    # Stopping it again: the transaction exists but is no longer active.
    again = await api.post(f"/api/transactions/{transaction_id}/remote-stop")
    assert again.status_code == 409, again.text
    assert (await api.post("/api/transactions/999999/remote-stop")).status_code == 404


async def test_remote_stop_through_the_station_commands_route(
    cp: ChargePoint16, api: httpx.AsyncClient, backend: CpoBackend
) -> None:
    result = await backend.commands.execute(CP, c.RemoteStart("DRIVER-R"))
    assert result.status == "Accepted"
    transaction_id = (await cp.wait_sent("StartTransaction")).response.transaction_id
    other = await register_station(api, "CP_ELSEWHERE")
    wrong = await command(api, other["id"], "remote-stop", {"transaction_id": transaction_id})
    assert wrong.status_code == 422
    stop = await run(api, "remote-stop", {"transaction_id": transaction_id})
    assert stop["status"] == "Accepted"
    await cp.wait_sent("StopTransaction")
    assert (await transaction(api, transaction_id))["stop_reason"] == "Remote"


async def test_remote_start_refused_when_no_connector_is_free(
    cp: ChargePoint16, api: httpx.AsyncClient
) -> None:
    answer = await run(api, "remote-start", {"id_token": "DRIVER-R", "evse_id": 9})
    assert answer["status"] == "Rejected"
    assert (await command(api, CP, "remote-start", {"evse_id": 1})).status_code == 422


async def test_reset_stops_transactions_and_the_charger_boots_again(
    cp: ChargePoint16, api: httpx.AsyncClient
) -> None:
    await run(api, "remote-start", {"id_token": "DRIVER-R", "evse_id": 1})
    transaction_id = (await cp.wait_sent("StartTransaction")).response.transaction_id
    cp.catch_up()
    answer = await run(api, "reset", {"kind": "hard"})
    assert answer["status"] == "Accepted"
    assert await cp.wait_for("Reset") == {"type": "Hard"}
    await cp.wait_sent("StopTransaction")
    assert (await cp.wait_sent("BootNotification")).response.status == "Accepted"
    stored = await transaction(api, transaction_id)
    assert (stored["status"], stored["stop_reason"], stored["closed_by"]) == (
        "completed",
        "HardReset",
        None,
    )
    assert (await command(api, CP, "reset", {"kind": "soft", "evse_id": 1})).status_code == 422


async def test_unlock_connector(cp: ChargePoint16, api: httpx.AsyncClient) -> None:
    answer = await run(api, "unlock-connector", {"evse_id": 2})
    assert answer["status"] == "Unlocked"
    assert await cp.wait_for("UnlockConnector") == {"connectorId": 2}
    unknown = await run(api, "unlock-connector", {"evse_id": 7})
    assert unknown["status"] == "NotSupported"


async def test_change_availability_of_a_connector_and_of_the_station(
    cp: ChargePoint16, api: httpx.AsyncClient
) -> None:
    answer = await run(api, "change-availability", {"operative": False, "evse_id": 2})
    assert answer["status"] == "Accepted"
    assert await cp.wait_for("ChangeAvailability") == {"connectorId": 2, "type": "Inoperative"}

    async def statuses() -> dict[int, str]:
        found = await station(api, CP)
        return {con["evse_id"]: con["status"] for con in found["connectors"]}

    await eventually(lambda: _has(statuses(), 2, "Unavailable"))
    whole = await run(api, "change-availability", {"operative": False})
    assert whole["status"] == "Accepted"
    assert await cp.wait_for("ChangeAvailability") == {"connectorId": 0, "type": "Inoperative"}
    await eventually(lambda: _has(statuses(), 0, "Unavailable"))
    # The charger reports its connectors one by one after the station.
    await eventually(lambda: _has(statuses(), 1, "Unavailable"))


async def _has(pending: object, evse_id: int, status: str) -> bool:
    found: dict[int, str] = await pending  # type: ignore[misc]
    return found.get(evse_id) == status


async def test_get_and_change_configuration(
    cp: ChargePoint16, api: httpx.AsyncClient, backend: CpoBackend
) -> None:
    changed = await run(api, "change-configuration", {"key": "HeartbeatInterval", "value": "42"})
    assert changed["status"] == "Accepted"
    assert cp.setting("HeartbeatInterval").value == "42"
    unknown = await run(api, "change-configuration", {"key": "NoSuchKey", "value": "1"})
    assert unknown["status"] == "NotSupported"
    readonly = await run(api, "change-configuration", {"key": "NumberOfConnectors", "value": "9"})
    assert readonly["status"] == "Rejected"

    got = await run(api, "get-configuration", {"keys": ["HeartbeatInterval", "NoSuchKey"]})
    assert got == {
        "values": [{"key": "HeartbeatInterval", "readonly": False, "value": "42"}],
        "unknown_keys": ["NoSuchKey"],
        "variables": [],
    }
    everything = await backend.commands.execute(CP, c.GetConfiguration())
    keys = {entry.key for entry in everything.values}
    assert {"HeartbeatInterval", "MeterValueSampleInterval", "NumberOfConnectors"} <= keys


async def test_clear_cache_and_data_transfer(cp: ChargePoint16, api: httpx.AsyncClient) -> None:
    cleared = await run(api, "clear-cache")
    assert cleared == {"status": "Accepted", "reason": None}
    assert await cp.wait_for("ClearCache") == {}
    transferred = await run(
        api, "data-transfer", {"vendor_id": "com.acme", "message_id": "Echo", "data": "hi"}
    )
    assert transferred == {"status": "Accepted", "data": "hi"}
    assert await cp.wait_for("DataTransfer") == {
        "vendorId": "com.acme",
        "messageId": "Echo",
        "data": "hi",
    }


async def test_trigger_message_makes_the_charger_send_it(
    cp: ChargePoint16, api: httpx.AsyncClient, backend: CpoBackend
) -> None:
    cp.catch_up()
    heartbeat = await run(api, "trigger-message", {"message": "Heartbeat"})
    assert heartbeat["status"] == "Accepted"
    await cp.wait_sent("Heartbeat")
    triggered = await backend.commands.execute(
        CP, c.TriggerMessage(c.TriggeredMessage.STATUS_NOTIFICATION, 2)
    )
    assert triggered.status == "Accepted"
    assert await cp.wait_for("TriggerMessage") == {"requestedMessage": "Heartbeat"}
    assert await cp.wait_for("TriggerMessage") == {
        "requestedMessage": "StatusNotification",
        "connectorId": 2,
    }
    assert (await cp.wait_sent("StatusNotification")).request.connector_id == 2
    await run(api, "trigger-message", {"message": "MeterValues", "evse_id": 1})
    sample = (await cp.wait_sent("MeterValues")).request
    assert sample.meter_value[0]["sampled_value"][0]["context"] == "Trigger"
    refused = await run(api, "trigger-message", {"message": "Heartbeat", "evse_id": 5})
    assert refused["status"] == "Rejected"


async def test_get_diagnostics_and_the_status_notifications_that_follow(
    cp: ChargePoint16, api: httpx.AsyncClient
) -> None:
    answer = await run(
        api,
        "get-diagnostics",
        {
            "location": "ftp://diag.example/up",
            "retries": 2,
            "start_time": iso(datetime.now(UTC)),
        },
    )
    assert answer["status"] == "Accepted"
    file_name = answer["file_name"]
    assert isinstance(file_name, str)
    assert file_name.startswith(f"diagnostics-{CP}")
    request = await cp.wait_for("GetDiagnostics")
    assert (request["location"], request["retries"]) == ("ftp://diag.example/up", 2)
    assert request["startTime"].endswith("Z")

    async def uploaded() -> bool:
        kinds = [(e["kind"], e["payload"]["status"]) for e in await events(api, CP)]
        return ("DiagnosticsStatusNotification", "Uploaded") in kinds

    await eventually(uploaded)


async def test_update_firmware_and_the_status_notifications_that_follow(
    cp: ChargePoint16, api: httpx.AsyncClient
) -> None:
    answer = await run(
        api,
        "update-firmware",
        {"location": "https://fw.example/1.1.bin", "retrieve_date": "2020-05-01T10:00:00Z"},
    )
    # A 1.6 UpdateFirmware.conf is empty: the answer itself is the acceptance.
    assert answer == {"status": "Accepted", "reason": None}
    request = await cp.wait_for("UpdateFirmware")
    assert request == {
        "location": "https://fw.example/1.1.bin",
        "retrieveDate": "2020-05-01T10:00:00.000Z",
    }

    async def installed() -> list[str]:
        statuses = [
            e["payload"]["status"]
            for e in await events(api, CP)
            if e["kind"] == "FirmwareStatusNotification"
        ]
        return statuses if "Installed" in statuses else []

    await eventually(installed)
    assert await installed() == ["Installed", "Installing", "Downloaded", "Downloading"]


async def test_raw_call_is_validated_against_the_schema(
    cp: ChargePoint16, api: httpx.AsyncClient
) -> None:
    answer = await run(
        api,
        "raw",
        {
            "action": "ChangeConfiguration",
            "payload": {"key": "MeterValueSampleInterval", "value": "5"},
        },
    )
    assert answer == {"payload": {"status": "Accepted"}}
    assert cp.setting("MeterValueSampleInterval").value == "5"
    cp.catch_up()
    broken = await command(api, CP, "raw", {"action": "Reset", "payload": {"type": "Sideways"}})
    assert broken.status_code == 422
    assert broken.json()["error"] == "command_not_supported"
    unknown = await command(api, CP, "raw", {"action": "Teleport", "payload": {}})
    assert unknown.status_code == 422
    # Neither reached the charger.
    with pytest.raises(TimeoutError):
        await cp.wait_for("Reset", timeout=0.2)


async def test_command_to_a_silent_station_times_out_with_504(database_url: str) -> None:
    async with (
        running_with(database_url, ocpp={"response_timeout": 0.3}) as server,
        connect(server.ocpp_url, "CP_MUTE") as sim,
    ):
        await sim.boot()
        sim.silence("Reset")
        timed_out = await command(server.api, "CP_MUTE", "reset", {})
        assert timed_out.status_code == 504
        body = timed_out.json()
        assert (body["error"], body["station"]) == ("charger_timeout", "CP_MUTE")
        assert "did not answer Reset" in body["message"]
        # The connection is still usable for the next command.
        sim.restore("Reset")
        cleared = await command(server.api, "CP_MUTE", "clear-cache", {})
        assert cleared.status_code == 200, cleared.text


async def test_command_to_an_offline_station_is_409(
    api: httpx.AsyncClient, backend: CpoBackend
) -> None:
    await register_station(api, "CP_AWAY")
    for station_id in ("CP_AWAY", "CP_NEVER_HEARD_OF"):
        offline = await command(api, station_id, "clear-cache")
        assert offline.status_code == 409
        assert offline.json()["error"] == "station_offline"
    with pytest.raises(c.StationOffline):
        await backend.commands.execute("CP_AWAY", c.ClearCache())


async def test_charger_call_error_is_502_with_its_code(
    cp: ChargePoint16, api: httpx.AsyncClient, backend: CpoBackend
) -> None:
    cp.override("ClearCache", InternalError("cache on fire"))
    failed = await command(api, CP, "clear-cache")
    assert failed.status_code == 502
    body = failed.json()
    assert body["error"] == "charger_error"
    assert body["message"] == f"station {CP} answered InternalError: cache on fire"
    assert body["charger_error"]["code"] == "InternalError"
    assert body["charger_error"]["description"] == "cache on fire"
    with pytest.raises(c.ChargerError) as raised:
        await backend.commands.execute(CP, c.ClearCache())
    assert raised.value.error_code == "InternalError"
    # An answer that breaks the response schema is the charger's fault too.
    cp.override("ClearCache", {"status": "Maybe"})
    invalid = await command(api, CP, "clear-cache")
    assert invalid.status_code == 502
    assert invalid.json()["error"] == "command_failed"
    # The unknown command name is no route at all.
    assert (await command(api, CP, "teleport")).status_code == 404

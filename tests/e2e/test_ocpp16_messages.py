"""Every OCPP 1.6 call a charger makes, answered per the specification and stored."""

from __future__ import annotations

from decimal import Decimal

import httpx

from simulators.ocpp16 import connect
from tests.conftest import eventually
from tests.e2e.helpers import (
    assert_wire_timestamp,
    create_token,
    events,
    minutes_ago,
    register_station,
    station,
    transaction,
    transactions,
)


async def test_boot_notification_is_stored_and_answered(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CP_BOOT") as cp:
        boot = await cp.boot("ACME", "Wallbox-9", serial_number="SN-0042", firmware_version="4.2.0")
        assert boot.status == "Accepted"
        assert boot.interval == 300
        assert_wire_timestamp(boot.current_time)
        found = await station(api, "CP_BOOT")
    assert (found["vendor"], found["model"]) == ("ACME", "Wallbox-9")
    assert (found["serial_number"], found["firmware_version"]) == ("SN-0042", "4.2.0")
    assert found["protocol"] == "1.6"
    assert_wire_timestamp(found["last_boot_at"])


async def test_boot_of_pending_station_uses_the_retry_interval(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await register_station(api, "CP_LATER", registration="Pending")
    async with connect(ocpp_url, "CP_LATER") as cp:
        boot = await cp.boot()
    assert (boot.status, boot.interval) == ("Pending", 60)
    assert (await station(api, "CP_LATER"))["vendor"] == "CPO-Sim"


async def test_heartbeat_answers_utc_millisecond_time(ocpp_url: str) -> None:
    async with connect(ocpp_url, "CP_BEAT") as cp:
        await cp.boot()
        beat = await cp.heartbeat()
    assert_wire_timestamp(beat.current_time)


async def test_status_notifications_per_connector_and_for_the_station(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CP_STATUS", connectors=2) as cp:
        await cp.start_up()
        at = minutes_ago(1)
        await cp.status(
            2,
            "Faulted",
            "GroundFailure",
            info="RCD tripped",
            vendor_id="com.acme",
            vendor_error_code="E-17",
            timestamp=at,
        )
        await cp.status(0, "Unavailable")
        found = await station(api, "CP_STATUS")
    connectors = {(c["evse_id"], c["connector_id"]): c for c in found["connectors"]}
    assert set(connectors) == {(0, 0), (1, 1), (2, 1)}
    assert connectors[(0, 0)]["status"] == "Unavailable"
    assert connectors[(1, 1)]["status"] == "Available"
    faulted = connectors[(2, 1)]
    assert faulted["status"] == "Faulted"
    assert faulted["error_code"] == "GroundFailure"
    assert (faulted["info"], faulted["vendor_id"], faulted["vendor_error_code"]) == (
        "RCD tripped",
        "com.acme",
        "E-17",
    )
    assert faulted["status_at"] == at
    assert_wire_timestamp(faulted["received_at"])


async def test_authorize_answers_from_the_token_store(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "TAG-OK", expiry_date="2099-01-01T00:00:00Z", group_id="FLEET-1")
    await create_token(api, "TAG-BLOCKED", status="Blocked")
    await create_token(api, "TAG-EXPIRED", status="Expired")
    await create_token(api, "TAG-INVALID", status="Invalid")
    await create_token(api, "TAG-OUTDATED", expiry_date="2020-01-01T00:00:00Z")
    async with connect(ocpp_url, "CP_AUTH") as cp:
        await cp.boot()
        ok = (await cp.authorize("TAG-OK")).id_tag_info
        verdicts = {
            tag: (await cp.authorize(tag)).id_tag_info["status"]
            for tag in ("TAG-BLOCKED", "TAG-EXPIRED", "TAG-INVALID", "TAG-OUTDATED", "NOBODY")
        }
    assert ok == {
        "status": "Accepted",
        "expiry_date": "2099-01-01T00:00:00.000Z",
        "parent_id_tag": "FLEET-1",
    }
    assert verdicts == {
        "TAG-BLOCKED": "Blocked",
        "TAG-EXPIRED": "Expired",
        "TAG-INVALID": "Invalid",
        "TAG-OUTDATED": "Expired",
        "NOBODY": "Invalid",
    }


async def test_start_transaction_is_stored(ocpp_url: str, api: httpx.AsyncClient) -> None:
    await create_token(api, "DRIVER-S")
    started_at = minutes_ago(2)
    async with connect(ocpp_url, "CP_START") as cp:
        await cp.boot()
        started = await cp.start_transaction(2, "DRIVER-S", meter_start=1234, timestamp=started_at)
        unknown = await cp.start_transaction(1, "STRANGER", meter_start=0)
    assert started.id_tag_info["status"] == "Accepted"
    # Unknown tags are refused but the transaction is recorded: the charger may charge anyway.
    assert unknown.id_tag_info["status"] == "Invalid"
    assert started.transaction_id != unknown.transaction_id
    stored = await transaction(api, started.transaction_id)
    assert stored["station_id"] == "CP_START"
    assert (stored["evse_id"], stored["connector_id"]) == (2, 1)
    assert stored["charger_transaction_id"] == str(started.transaction_id)
    assert stored["status"] == "active"
    assert stored["id_token"] == "DRIVER-S"
    assert Decimal(stored["meter_start_wh"]) == 1234
    assert stored["started_at"] == started_at
    assert_wire_timestamp(stored["start_received_at"])
    assert len(await transactions(api, station_id="CP_START", status="active")) == 2


async def test_meter_values_are_normalised_and_keep_the_raw_reading(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "DRIVER-M")
    sampled_at = minutes_ago(1)
    async with connect(ocpp_url, "CP_METER") as cp:
        await cp.boot()
        started = await cp.start_transaction(
            1, "DRIVER-M", meter_start=1000, timestamp=minutes_ago(2)
        )
        await cp.meter_values(
            1,
            [
                {
                    "timestamp": sampled_at,
                    "sampled_value": [
                        {
                            "value": "1.5",
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "kWh",
                        },
                        {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                        {"value": "16", "measurand": "Current.Import", "phase": "L1"},
                        {"value": "1600"},
                    ],
                }
            ],
        )
    details = await transaction(api, started.transaction_id)
    values = details["meter_values"]
    assert len(values) == 4
    by_raw = {v["raw_value"]: v for v in values}
    energy = by_raw["1.5"]
    assert (energy["unit"], Decimal(energy["value"]), energy["raw_unit"]) == (
        "Wh",
        Decimal(1500),
        "kWh",
    )
    power = by_raw["7.2"]
    assert (power["measurand"], power["unit"], Decimal(power["value"])) == (
        "Power.Active.Import",
        "W",
        Decimal(7200),
    )
    assert (by_raw["16"]["unit"], by_raw["16"]["phase"]) == ("A", "L1")
    bare = by_raw["1600"]
    assert bare["measurand"] == "Energy.Active.Import.Register"
    assert (bare["unit"], bare["raw_unit"], Decimal(bare["value"])) == ("Wh", None, Decimal(1600))
    assert (bare["location"], bare["context"], bare["value_format"]) == (
        "Outlet",
        "Sample.Periodic",
        "Raw",
    )
    for value in values:
        assert value["sampled_at"] == sampled_at
        assert_wire_timestamp(value["received_at"])
        assert value["received_at"] > value["sampled_at"]
        assert value["transaction_id"] == started.transaction_id
        assert value["after_stop"] is False
    assert Decimal(details["last_meter_wh"]) == 1500


async def test_stop_transaction_with_transaction_data(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "DRIVER-T")
    stopped_at = minutes_ago(0.5)
    async with connect(ocpp_url, "CP_STOP") as cp:
        await cp.boot()
        started = await cp.start_transaction(1, "DRIVER-T", meter_start=100)
        stopped = await cp.stop_transaction(
            started.transaction_id,
            meter_stop=2600,
            id_tag="DRIVER-T",
            reason="EVDisconnected",
            timestamp=stopped_at,
            transaction_data=[
                {
                    "timestamp": stopped_at,
                    "sampled_value": [
                        {"value": "2.6", "unit": "kWh", "context": "Transaction.End"}
                    ],
                }
            ],
        )
    assert stopped.id_tag_info == {"status": "Accepted"}
    stored = await transaction(api, started.transaction_id)
    assert stored["status"] == "completed"
    assert (stored["stop_reason"], stored["stop_id_token"]) == ("EVDisconnected", "DRIVER-T")
    assert Decimal(stored["meter_stop_wh"]) == 2600
    assert stored["stopped_at"] == stopped_at
    assert stored["closed_by"] is None
    [end] = stored["meter_values"]
    assert (Decimal(end["value"]), end["context"], end["after_stop"]) == (
        Decimal(2600),
        "Transaction.End",
        False,
    )


async def test_stop_without_reason_defaults_to_local(ocpp_url: str, api: httpx.AsyncClient) -> None:
    async with connect(ocpp_url, "CP_LOCAL") as cp:
        await cp.boot()
        started = await cp.start_transaction(1, "ANYONE", meter_start=0)
        stopped = await cp.stop_transaction(started.transaction_id, meter_stop=10)
    assert stopped.id_tag_info is None  # no idTag in the stop: no idTagInfo in the answer
    assert (await transaction(api, started.transaction_id))["stop_reason"] == "Local"


async def test_data_transfer_and_notifications_are_kept_as_station_events(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CP_EVENTS") as cp:
        await cp.boot()
        answer = await cp.data_transfer("com.acme", "Ping", '{"n": 1}')
        await cp.diagnostics_status("Uploaded")
        await cp.firmware_status("Installing")
    assert answer.status == "UnknownVendorId"
    found = await events(api, "CP_EVENTS")
    assert [(e["kind"], e["payload"]) for e in found] == [
        ("FirmwareStatusNotification", {"status": "Installing"}),
        ("DiagnosticsStatusNotification", {"status": "Uploaded"}),
        ("DataTransfer", {"vendorId": "com.acme", "messageId": "Ping", "data": '{"n": 1}'}),
    ]
    for event in found:
        assert_wire_timestamp(event["received_at"])


async def test_a_whole_session_through_the_flow_records_periodic_samples(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "DRIVER-F")
    async with connect(
        ocpp_url, "CP_FLOW", connectors=1, config={"MeterValueSampleInterval": "1"}
    ) as cp:
        await cp.start_up()
        session = await cp.plug_in_and_charge(1, "DRIVER-F", duration=1.2)
        assert session.transaction_id is not None
        # Finishing, then Available, arrive after the stop.
        await eventually(
            lambda: (
                [s.request.status for s in cp.sent if s.action == "StatusNotification"][-1]
                == "Available"
            )
        )
    stored = await transaction(api, session.transaction_id)
    assert stored["status"] == "completed"
    assert Decimal(stored["meter_stop_wh"]) == session.meter_stop_wh
    assert any(v["context"] == "Sample.Periodic" for v in stored["meter_values"])
    connectors = (await station(api, "CP_FLOW"))["connectors"]
    assert {c["evse_id"]: c["status"] for c in connectors}[1] == "Available"

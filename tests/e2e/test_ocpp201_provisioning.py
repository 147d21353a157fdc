"""OCPP 2.0.1 provisioning (B), security events (A) and the messages we only keep."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from ocpp.exceptions import OCPPError

from simulators.ocpp201 import connect
from tests.conftest import eventually
from tests.e2e.helpers import command, events, get_json, minutes_ago, register_station

NOW = minutes_ago(0)

# A schema-valid request of every charger message we only store, and the answer we give.
KEPT: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "FirmwareStatusNotification": ({"status": "Downloaded", "requestId": 1}, {}),
    "LogStatusNotification": ({"status": "Uploaded", "requestId": 2}, {}),
    "NotifyEvent": (
        {
            "generatedAt": NOW,
            "seqNo": 0,
            "eventData": [
                {
                    "eventId": 1,
                    "timestamp": NOW,
                    "trigger": "Delta",
                    "actualValue": "Faulted",
                    "eventNotificationType": "HardWiredNotification",
                    "component": {"name": "Connector"},
                    "variable": {"name": "AvailabilityState"},
                }
            ],
        },
        {},
    ),
    "NotifyMonitoringReport": ({"requestId": 3, "seqNo": 0, "generatedAt": NOW}, {}),
    "NotifyChargingLimit": ({"chargingLimit": {"chargingLimitSource": "EMS"}}, {}),
    "NotifyEVChargingNeeds": (
        {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase"}},
        {"status": "Rejected"},
    ),
    "NotifyEVChargingSchedule": (
        {
            "timeBase": NOW,
            "evseId": 1,
            "chargingSchedule": {
                "id": 1,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
            },
        },
        {"status": "Accepted"},
    ),
    "NotifyDisplayMessages": ({"requestId": 4}, {}),
    "NotifyCustomerInformation": (
        {"data": "none", "seqNo": 0, "generatedAt": NOW, "requestId": 5},
        {},
    ),
    "ReportChargingProfiles": (
        {
            "requestId": 6,
            "chargingLimitSource": "CSO",
            "evseId": 1,
            "chargingProfile": [
                {
                    "id": 1,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Absolute",
                    "chargingSchedule": [
                        {
                            "id": 1,
                            "chargingRateUnit": "W",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
                        }
                    ],
                }
            ],
        },
        {},
    ),
    "ReservationStatusUpdate": ({"reservationId": 7, "reservationUpdateStatus": "Expired"}, {}),
    "ClearedChargingLimit": ({"chargingLimitSource": "EMS", "evseId": 1}, {}),
    "Get15118EVCertificate": (
        {
            "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
            "action": "Install",
            "exiRequest": "AAAA",
        },
        {"status": "Failed", "exiResponse": ""},
    ),
    "GetCertificateStatus": (
        {
            "ocspRequestData": {
                "hashAlgorithm": "SHA256",
                "issuerNameHash": "a",
                "issuerKeyHash": "b",
                "serialNumber": "c",
                "responderURL": "http://ocsp.invalid",
            }
        },
        {"status": "Failed"},
    ),
    "SignCertificate": ({"csr": "-----BEGIN CERTIFICATE REQUEST-----"}, {"status": "Rejected"}),
    "PublishFirmwareStatusNotification": ({"status": "Published", "requestId": 8}, {}),
    "SecurityEventNotification": ({"type": "FirmwareUpdated", "timestamp": NOW}, {}),
    "DataTransfer": ({"vendorId": "com.example", "data": {"x": 1}}, {"status": "UnknownVendorId"}),
}


async def test_boot_answers_the_operators_decision(ocpp_url: str, api: httpx.AsyncClient) -> None:
    await register_station(api, "CS_PENDING", registration="Pending")
    async with connect(ocpp_url, "CS_PENDING") as cs:
        boot = await cs.boot()
        assert boot.status == "Pending"
        assert boot.interval > 0
        # A Pending station may only be provisioned (B02): anything else is a SecurityError.
        calls: list[tuple[str, dict[str, Any]]] = [
            ("Heartbeat", {}),
            (
                "StatusNotification",
                {"timestamp": NOW, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
            ),
            ("Authorize", {"idToken": {"idToken": "X", "type": "ISO14443"}}),
        ]
        for action, payload in calls:
            with pytest.raises(OCPPError) as refused:
                await cs.call_raw(action, payload)
            assert refused.value.code == "SecurityError"
        # ... but the CSMS may read its device model while it is Pending.
        answer = await command(api, "CS_PENDING", "get-base-report", {"request_id": 41})
        assert answer.json()["status"] == "Accepted"
        await cs.wait_idle()
        model = await get_json(api, "/api/stations/CS_PENDING/device-model")
        assert model["reports"][0]["complete"]
        response = await api.patch("/api/stations/CS_PENDING", json={"registration": "Accepted"})
        assert response.status_code == 200
        assert (await cs.boot()).status == "Accepted"
        await cs.heartbeat()
    station = await get_json(api, "/api/stations/CS_PENDING")
    assert station["protocol"] == "2.0.1"
    assert station["vendor"] == "CPO-Sim"


async def test_a_rejected_station_may_only_boot(ocpp_url: str, api: httpx.AsyncClient) -> None:
    await register_station(api, "CS_REJECTED", registration="Rejected")
    async with connect(ocpp_url, "CS_REJECTED") as cs:
        assert (await cs.boot()).status == "Rejected"
        with pytest.raises(OCPPError) as refused:
            await cs.call_raw("NotifyReport", {"requestId": 1, "generatedAt": NOW, "seqNo": 0})
        assert refused.value.code == "SecurityError"


async def test_a_base_report_becomes_the_stored_device_model(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CS_MODEL") as cs:
        await cs.start_up()
        answer = await command(api, "CS_MODEL", "get-base-report", {"request_id": 7})
        assert answer.status_code == 200
        assert answer.json()["status"] == "Accepted"
        await cs.wait_idle()
        parts = [s for s in cs.sent if s.action == "NotifyReport"]
        assert len(parts) == 2, "the simulator reports in two parts"
    model = await get_json(api, "/api/stations/CS_MODEL/device-model")
    [report] = model["reports"]
    assert report["request_id"] == 7
    assert report["complete"]
    assert report["parts_received"] == 2
    by_name = {(v["component"], v["variable"]): v for v in model["variables"]}
    assert report["variables"] == len(by_name) == len(cs.device_model.variables)
    heartbeat = by_name["OCPPCommCtrlr", "HeartbeatInterval"]
    assert heartbeat["attributes"][0]["type"] == "Actual"
    assert heartbeat["attributes"][0]["mutability"] == "ReadWrite"
    assert heartbeat["characteristics"]["dataType"] == "integer"


async def test_a_full_inventory_forgets_what_it_no_longer_lists(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    ghost = {
        "component": {"name": "Ghost"},
        "variable": {"name": "Gone"},
        "variableAttribute": [{"type": "Actual", "value": "1"}],
    }

    async def names() -> set[tuple[str, str]]:
        model = await get_json(api, "/api/stations/CS_PRUNE/device-model")
        return {(v["component"], v["variable"]) for v in model["variables"]}

    async with connect(ocpp_url, "CS_PRUNE") as cs:
        await cs.start_up()
        report = {"requestId": 5, "generatedAt": NOW, "seqNo": 0, "reportData": [ghost]}
        await cs.call_raw("NotifyReport", report)
        configuration = {"request_id": 6, "report_base": "ConfigurationInventory"}
        assert (await command(api, "CS_PRUNE", "get-base-report", configuration)).is_success
        await cs.wait_idle()
        assert ("Ghost", "Gone") in await names(), "only a full inventory lists everything"
        assert (await command(api, "CS_PRUNE", "get-base-report", {"request_id": 7})).is_success
        await cs.wait_idle()

    async def pruned() -> bool:
        return ("Ghost", "Gone") not in await names()

    await eventually(pruned)
    assert ("OCPPCommCtrlr", "HeartbeatInterval") in await names()


async def test_report_parts_out_of_order_complete_once_all_came(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    def part(seq_no: int, tbc: bool, variable: str) -> dict[str, Any]:
        data = {
            "component": {"name": "EVSE", "evse": {"id": 1}},
            "variable": {"name": variable},
            "variableAttribute": [{"type": "Actual", "value": "1"}],
        }
        return {
            "requestId": 9,
            "generatedAt": NOW,
            "seqNo": seq_no,
            "tbc": tbc,
            "reportData": [data],
        }

    async with connect(ocpp_url, "CS_PARTS") as cs:
        await cs.start_up()
        await cs.call_raw("NotifyReport", part(1, False, "Power"))
        model = await get_json(api, "/api/stations/CS_PARTS/device-model")
        assert not model["reports"][0]["complete"]
        await cs.call_raw("NotifyReport", part(0, True, "AvailabilityState"))
    model = await get_json(api, "/api/stations/CS_PARTS/device-model")
    assert model["reports"][0]["complete"]
    assert {v["evse_id"] for v in model["variables"]} == {1}


async def test_variables_are_read_and_set_per_variable(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CS_VARS") as cs:
        await cs.start_up()
        got = await command(
            api,
            "CS_VARS",
            "get-variables",
            {
                "variables": [
                    {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"},
                    {"component": "Nothing", "variable": "Here"},
                ]
            },
        )
        results = got.json()["results"]
        assert [r["status"] for r in results] == ["Accepted", "UnknownComponent"]
        assert results[0]["value"] == "300"
        assert results[1]["variable"]["component"] == "Nothing"
        done = await command(
            api,
            "CS_VARS",
            "set-variables",
            {
                "variables": [
                    {
                        "component": "SampledDataCtrlr",
                        "variable": "TxUpdatedInterval",
                        "value": "15",
                    },
                    {"component": "ChargingStation", "variable": "Model", "value": "other"},
                ]
            },
        )
        statuses = [r["status"] for r in done.json()["results"]]
        assert statuses == ["Accepted", "Rejected"]
        assert cs.sample_interval_setting().value == "15"
        # 1.6 configuration keys reach their 2.0.1 variables.
        changed = await command(
            api, "CS_VARS", "change-configuration", {"key": "HeartbeatInterval", "value": "120"}
        )
        assert changed.status_code == 200
        # The caller gets the same answer whatever the station speaks, and the variable.
        assert changed.json()["status"] == "Accepted"
        assert changed.json()["variable"]["variable"]["component"] == "OCPPCommCtrlr"
        assert cs.heartbeat_setting().value == "120"
        read = await command(
            api,
            "CS_VARS",
            "get-configuration",
            {"keys": ["MeterValueSampleInterval", "TxCtrlr/StopTxOnInvalidId"]},
        )
        answer = read.json()
        assert answer["values"] == [
            {"key": "MeterValueSampleInterval", "readonly": False, "value": "15"},
            {"key": "TxCtrlr/StopTxOnInvalidId", "readonly": False, "value": "true"},
        ]
        assert answer["unknown_keys"] == []
        variables = [(r["variable"]["variable"], r["value"]) for r in answer["variables"]]
        assert variables == [("TxUpdatedInterval", "15"), ("StopTxOnInvalidId", "true")]
        unknown = await command(
            api, "CS_VARS", "change-configuration", {"key": "NoSuchKey", "value": "1"}
        )
        assert unknown.status_code == 422
    # What the station read and accepted is in the stored model, without a new report.
    model = await get_json(api, "/api/stations/CS_VARS/device-model")
    by_name = {(v["component"], v["variable"]): v["attributes"] for v in model["variables"]}
    assert by_name["OCPPCommCtrlr", "HeartbeatInterval"] == [{"type": "Actual", "value": "120"}]
    assert by_name["SampledDataCtrlr", "TxUpdatedInterval"] == [{"type": "Actual", "value": "15"}]
    assert by_name["TxCtrlr", "StopTxOnInvalidId"] == [{"type": "Actual", "value": "true"}]
    assert ("ChargingStation", "Model") not in by_name, "a rejected set changes nothing"
    assert ("Nothing", "Here") not in by_name


async def test_reset_and_network_profile(ocpp_url: str, api: httpx.AsyncClient) -> None:
    async with connect(ocpp_url, "CS_RESET") as cs:
        await cs.start_up()
        soft = await command(api, "CS_RESET", "reset", {"kind": "soft", "evse_id": 2})
        assert soft.json()["status"] == "Accepted"
        assert await cs.wait_for("Reset") == {"type": "OnIdle", "evseId": 2}
        hard = await command(api, "CS_RESET", "reset", {"kind": "hard"})
        assert hard.json()["status"] == "Accepted"
        assert await cs.wait_for("Reset") == {"type": "Immediate"}
        await cs.wait_sent("BootNotification")
        profile = {
            "csms_url": "wss://csms.invalid/ocpp",
            "security_profile": 2,
            "interface": "Wired0",
            "apn": {"apn": "iot.example", "authentication": "CHAP", "user_name": "cpo"},
        }
        answer = await command(
            api,
            "CS_RESET",
            "set-network-profile",
            {"configuration_slot": 1, "profile": profile},
        )
        assert answer.json()["status"] == "Accepted"
        assert (await cs.wait_for("SetNetworkProfile"))["connectionData"] == {
            "ocppVersion": "OCPP20",
            "ocppTransport": "JSON",
            "ocppCsmsUrl": "wss://csms.invalid/ocpp",
            "messageTimeout": 30,
            "securityProfile": 2,
            "ocppInterface": "Wired0",
            "apn": {"apn": "iot.example", "apnAuthentication": "CHAP", "apnUserName": "cpo"},
        }
        assert 1 in cs.network_profiles


async def test_every_other_charger_message_is_answered_and_kept(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CS_KEEP") as cs:
        await cs.start_up()
        for action, (request, expected) in KEPT.items():
            answer = await cs.call_raw(action, request, validate=True)
            assert answer == expected, action
    kept = {event["kind"]: event for event in await events(api, "CS_KEEP")}
    assert set(kept) == set(KEPT)
    security = kept["SecurityEventNotification"]
    assert security["payload"]["type"] == "FirmwareUpdated"
    assert security["occurred_at"] == NOW

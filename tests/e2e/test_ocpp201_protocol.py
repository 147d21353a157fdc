"""OCPP 2.0.1 on the wire: subprotocol choice, CallErrors with 2.0.1 names, and a 2.0.1
station that looks like a 1.6 one from the operator API."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from ocpp.exceptions import OCPPError

from simulators import ocpp16, ocpp201
from tests.e2e.helpers import command, create_token, station, transactions

VARIABLES = {("SampledDataCtrlr", "TxUpdatedInterval"): "1"}


async def test_a_charger_offering_both_versions_gets_201(ocpp_url: str) -> None:
    async with ocpp201.connect(ocpp_url, "CS_BOTH", subprotocols=("ocpp1.6", "ocpp2.0.1")) as cs:
        assert cs.subprotocol == "ocpp2.0.1"
        assert (await cs.start_up()).status == "Accepted"


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("Heartbeat", {"unexpected": 1}, "FormatViolation"),
        (
            "StatusNotification",
            {"timestamp": "2026-01-01T00:00:00Z"},
            "OccurrenceConstraintViolation",
        ),
        ("MeterValues", {"evseId": "one", "meterValue": []}, "TypeConstraintViolation"),
        (
            "StatusNotification",
            {
                "timestamp": "2026-01-01T00:00:00Z",
                "connectorStatus": "Busy",
                "evseId": 1,
                "connectorId": 1,
            },
            "PropertyConstraintViolation",
        ),
        ("NoSuchAction", {}, "NotImplemented"),
        ("RequestStartTransaction", {}, "NotSupported"),
    ],
)
async def test_bad_calls_get_201_error_codes(
    ocpp_url: str, action: str, payload: dict[str, Any], code: str
) -> None:
    async with ocpp201.connect(ocpp_url, "CS_BAD") as cs:
        await cs.start_up()
        with pytest.raises(OCPPError) as error:
            await cs.call_raw(action, payload)
        assert error.value.code == code
        await cs.heartbeat()  # the connection stays up


async def test_broken_frames_get_rpc_framework_errors(ocpp_url: str) -> None:
    async with ocpp201.connect(ocpp_url, "CS_FRAMES") as cs:
        await cs.start_up()
        not_json = json.loads(await cs.send_raw('[2, "abc", "Heartbeat", {'))
        assert not_json[:3] == [4, "abc", "RpcFrameworkError"]
        short = json.loads(await cs.send_raw('[2, "def"]'))
        assert short[2] == "RpcFrameworkError"
        unknown_type = json.loads(await cs.send_raw('[7, "ghi", "Heartbeat", {}]'))
        assert unknown_type[:3] == [4, "ghi", "MessageTypeNotSupported"]
        await cs.heartbeat()


async def test_16_and_201_stations_look_alike(ocpp_url: str, api: httpx.AsyncClient) -> None:
    await create_token(api, "ALIKE")
    async with (
        ocpp16.connect(
            ocpp_url, "CP_16", connectors=1, config={"MeterValueSampleInterval": "1"}
        ) as cp,
        ocpp201.connect(ocpp_url, "CS_201", evses=1, variables=VARIABLES) as cs,
    ):
        await cp.start_up()
        await cs.start_up()
        await cp.plug_in_and_charge(1, "ALIKE", duration=1.2)
        await cs.plug_in_and_charge(1, "ALIKE", duration=1.2)
        old, new = await station(api, "CP_16"), await station(api, "CS_201")
        assert old.keys() == new.keys()
        assert (old["protocol"], new["protocol"]) == ("1.6", "2.0.1")
        assert [(c["evse_id"], c["connector_id"]) for c in new["connectors"]] == [(1, 1)]
        assert (1, 1) in [(c["evse_id"], c["connector_id"]) for c in old["connectors"]]
        # The same neutral command reaches both.
        for station_id in ("CP_16", "CS_201"):
            answer = await command(api, station_id, "unlock-connector", {"evse_id": 1})
            assert answer.status_code == 200
    [t16] = await transactions(api, station_id="CP_16")
    [t201] = await transactions(api, station_id="CS_201")
    assert t16.keys() == t201.keys()
    for found in (t16, t201):
        assert (found["status"], found["id_token"], found["evse_id"]) == ("completed", "ALIKE", 1)
        assert Decimal(found["meter_stop_wh"]) > Decimal(found["meter_start_wh"])


async def test_new_commands_are_not_supported_by_16(ocpp_url: str, api: httpx.AsyncClient) -> None:
    async with ocpp16.connect(ocpp_url, "CP_OLD", connectors=1) as cp:
        await cp.start_up()
        answer = await command(api, "CP_OLD", "get-base-report", {})
        assert answer.status_code == 422
        answer = await command(api, "CP_OLD", "get-transaction-status", {})
        assert answer.status_code == 422

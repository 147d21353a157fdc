"""OCPP 2.0.1 transactions (block E) land in the same domain as 1.6 ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from simulators.ocpp201 import connect
from tests.e2e.helpers import create_token, iso, transaction, transactions

VARIABLES = {("SampledDataCtrlr", "TxUpdatedInterval"): "1"}


def _event(
    seq_no: int,
    event_type: str,
    *,
    transaction_id: str = "TX-1",
    at: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A TransactionEvent payload (camelCase), for call_raw."""
    info = {"transactionId": transaction_id}
    info.update(fields.pop("info", {}))
    return {
        "eventType": event_type,
        "timestamp": iso(at or datetime.now(UTC)),
        "triggerReason": fields.pop("triggerReason", "Authorized"),
        "seqNo": seq_no,
        "transactionInfo": info,
        **fields,
    }


def _energy(wh: float, at: datetime, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    return [
        {
            "timestamp": iso(at),
            "sampledValue": [
                {
                    "value": wh,
                    "context": context,
                    "measurand": "Energy.Active.Import.Register",
                    "unitOfMeasure": {"unit": "kWh", "multiplier": 0},
                }
            ],
        }
    ]


async def test_a_session_cable_first_is_one_transaction(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "DRIVER-201")
    async with connect(ocpp_url, "CS_TX", variables=VARIABLES) as cs:
        await cs.start_up()
        session = await cs.plug_in_and_charge(1, "DRIVER-201", duration=1.5)
        assert session.accepted
    [found] = await transactions(api, station_id="CS_TX")
    assert found["status"] == "completed"
    assert found["id_token"] == "DRIVER-201"
    assert found["charger_transaction_id"] == session.transaction_id
    assert found["evse_id"] == 1
    assert found["connector_id"] == 1
    assert found["stop_reason"] == "Local"
    assert found["charging_state"] == "EVConnected"
    details = await transaction(api, found["id"])
    assert [e["seq_no"] for e in details["events"]] == list(range(len(details["events"])))
    assert details["events"][0]["event_type"] == "Started"
    assert details["events"][-1]["event_type"] == "Ended"
    assert details["missing_seq_nos"] == []
    assert details["meter_values"]
    assert all(v["unit"] in ("Wh", "W", "A", "V", "Percent") for v in details["meter_values"])


async def test_the_token_verdict_follows_the_token_store(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "BLOCKED-201", status="Blocked", group_id="FLEET")
    async with connect(ocpp_url, "CS_VERDICT") as cs:
        await cs.start_up()
        answer = await cs.call_raw(
            "TransactionEvent",
            _event(
                0,
                "Started",
                idToken={"idToken": "BLOCKED-201", "type": "ISO14443"},
                evse={"id": 1, "connectorId": 1},
            ),
        )
        assert answer["idTokenInfo"]["status"] == "Blocked"
        assert answer["idTokenInfo"]["groupIdToken"] == {"idToken": "FLEET", "type": "Central"}
        unknown = await cs.call_raw(
            "TransactionEvent",
            _event(1, "Updated", idToken={"idToken": "NOBODY", "type": "eMAID"}),
        )
        assert unknown["idTokenInfo"]["status"] == "Invalid"
        free = await cs.call_raw(
            "TransactionEvent",
            _event(2, "Updated", idToken={"idToken": "", "type": "NoAuthorization"}),
        )
        assert free["idTokenInfo"]["status"] == "Accepted"


async def test_replays_are_idempotent_and_gaps_are_recorded(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "REPLAY")
    start = datetime.now(UTC) - timedelta(minutes=10)
    started = _event(
        0,
        "Started",
        at=start,
        evse={"id": 2, "connectorId": 1},
        idToken={"idToken": "REPLAY", "type": "ISO14443"},
        meterValue=_energy(1.5, start, "Transaction.Begin"),
        info={"chargingState": "Charging"},
        numberOfPhasesUsed=3,
        cableMaxCurrent=32,
    )
    async with connect(ocpp_url, "CS_REPLAY") as cs:
        await cs.start_up()
        first = await cs.call_raw("TransactionEvent", started)
        again = await cs.call_raw("TransactionEvent", started)
        assert first == again
        # seqNo 1 never arrives; 3 arrives before 2.
        later = start + timedelta(minutes=5)
        await cs.call_raw(
            "TransactionEvent",
            _event(
                3,
                "Updated",
                at=later,
                info={"chargingState": "SuspendedEV"},
                meterValue=_energy(2.5, later),
            ),
        )
        await cs.call_raw(
            "TransactionEvent",
            _event(
                2, "Updated", at=start + timedelta(minutes=2), info={"chargingState": "Charging"}
            ),
        )
        [found] = await transactions(api, station_id="CS_REPLAY")
        assert found["status"] == "active"
        # The newest state by the charger's clock, not by arrival.
        assert found["charging_state"] == "SuspendedEV"
        await cs.call_raw(
            "TransactionEvent",
            _event(
                4,
                "Ended",
                at=later,
                triggerReason="StopAuthorized",
                info={"stoppedReason": "Local", "chargingState": "EVConnected"},
                meterValue=_energy(3, later, "Transaction.End"),
            ),
        )
        await cs.call_raw("TransactionEvent", _event(4, "Ended", at=later))
    [found] = await transactions(api, station_id="CS_REPLAY")
    assert found["status"] == "completed"
    assert Decimal(found["meter_start_wh"]) == Decimal(1500)
    assert Decimal(found["meter_stop_wh"]) == Decimal(3000)
    assert found["evse_id"] == 2
    details = await transaction(api, found["id"])
    assert [e["seq_no"] for e in details["events"]] == [0, 2, 3, 4]
    assert details["missing_seq_nos"] == [1]
    first_event = details["events"][0]
    assert first_event["number_of_phases_used"] == 3
    assert first_event["cable_max_current"] == 32


async def test_an_offline_session_is_replayed_with_its_own_timestamps(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "OFFLINE")
    async with connect(ocpp_url, "CS_OFFLINE", variables=VARIABLES) as cs:
        await cs.start_up()
        await cs.disconnect()
        session = await cs.plug_in_and_charge(1, "OFFLINE", duration=1.2, authorize=False)
        assert cs.offline_queue, "the events were queued while offline"
        queued = [event.timestamp for event in cs.offline_queue]
        await cs.reconnect()
        assert not cs.offline_queue
    [found] = await transactions(api, station_id="CS_OFFLINE")
    assert found["status"] == "completed"
    assert found["charger_transaction_id"] == session.transaction_id
    assert found["id_token"] == "OFFLINE"
    details = await transaction(api, found["id"])
    assert all(event["offline"] for event in details["events"])
    assert details["started_at"] == queued[0]
    assert details["stopped_at"] == queued[-1]


async def test_an_ended_before_its_started_is_reunited(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    end = start + timedelta(minutes=30)
    async with connect(ocpp_url, "CS_ORDER") as cs:
        await cs.start_up()
        await cs.call_raw(
            "TransactionEvent",
            _event(
                1,
                "Ended",
                transaction_id="LATE",
                at=end,
                offline=True,
                meterValue=_energy(9, end, "Transaction.End"),
                info={"stoppedReason": "EVDisconnected"},
            ),
        )
        await cs.call_raw(
            "TransactionEvent",
            _event(
                0,
                "Started",
                transaction_id="LATE",
                at=start,
                offline=True,
                evse={"id": 1},
                meterValue=_energy(4, start, "Transaction.Begin"),
                idToken={"idToken": "SOMEONE", "type": "ISO14443"},
            ),
        )
    [found] = await transactions(api, station_id="CS_ORDER")
    assert found["status"] == "completed"
    assert (found["evse_id"], found["connector_id"]) == (1, 1)
    assert Decimal(found["meter_start_wh"]) == Decimal(4000)
    assert Decimal(found["meter_stop_wh"]) == Decimal(9000)
    assert found["id_token"] == "SOMEONE"
    assert found["stop_reason"] == "EVDisconnected"


async def test_signed_meter_values_are_kept_raw(ocpp_url: str, api: httpx.AsyncClient) -> None:
    await create_token(api, "SIGNED")
    at = datetime.now(UTC) - timedelta(minutes=1)
    signed = {
        "signedMeterData": "T0NNRi1kYXRhLWZyb20tdGhlLW1ldGVy",
        "signingMethod": "ECDSA-secp256r1-SHA256",
        "encodingMethod": "OCMF",
        "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
    }
    sample = {
        "value": 1234.5,
        "measurand": "Energy.Active.Import.Register",
        "unitOfMeasure": {"unit": "Wh"},
        "context": "Transaction.Begin",
        "signedMeterValue": signed,
    }
    started = _event(
        0,
        "Started",
        transaction_id="TX-SIGNED",
        at=at,
        evse={"id": 1, "connectorId": 1},
        idToken={"idToken": "SIGNED", "type": "ISO14443"},
        meterValue=[{"timestamp": iso(at), "sampledValue": [sample]}],
    )
    async with connect(ocpp_url, "CS_SIGNED") as cs:
        await cs.start_up()
        answer = await cs.call_raw("TransactionEvent", started)
        assert answer["idTokenInfo"]["status"] == "Accepted"
    (found,) = await transactions(api, station_id="CS_SIGNED")
    values = (await transaction(api, found["id"]))["meter_values"]
    assert len(values) == 1
    # The signed blob is the evidence a customer can verify: kept exactly as sent,
    # beside the number the charger reported for it.
    assert values[0]["raw_value"] == signed["signedMeterData"]
    assert values[0]["value_format"] == "SignedData"
    assert Decimal(values[0]["value"]) == Decimal("1234.5")

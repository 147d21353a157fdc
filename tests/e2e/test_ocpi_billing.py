"""Billing end to end: what the eMSP holds for a session is what the charger metered.

Each test drives a real charger simulator through a flow that used to lose or misstate
energy, and asserts at the hub simulator (the eMSP): exactly one Session object for the
transaction, and CDRs whose net energy and cost (Credit CDRs subtracted) equal the
charger's meter delta priced by the tariff.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cpo_backend.app import CpoBackend
from simulators.ocpi_hub import HubSimulator
from simulators.ocpp16 import connect as connect16
from simulators.ocpp201 import connect as connect201
from tests.e2e.billing_support import billing_network, expected_cost, net_billed


@contextlib.asynccontextmanager
async def _network(
    database_url: str, grace: float
) -> AsyncIterator[tuple[CpoBackend, HubSimulator]]:
    async with billing_network(database_url, grace) as net:
        yield net.server, net.hub


@pytest.fixture
async def billing(database_url: str) -> AsyncIterator[tuple[CpoBackend, HubSimulator]]:
    async with _network(database_url, grace=0.0) as network:
        yield network


@pytest.fixture
async def billing_with_grace(
    database_url: str,
) -> AsyncIterator[tuple[CpoBackend, HubSimulator]]:
    async with _network(database_url, grace=60.0) as network:
        yield network


def ocpp_url(server: CpoBackend) -> str:
    return f"ws://127.0.0.1:{server.ocpp_port}/ocpp"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _register(wh: int, context: str) -> dict[str, Any]:
    return {
        "timestamp": _iso(datetime.now(UTC)),
        "sampledValue": [
            {
                "value": wh,
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unitOfMeasure": {"unit": "Wh"},
            }
        ],
    }


def _event(seq_no: int, event_type: str, trigger: str, **fields: Any) -> dict[str, Any]:
    info = {"transactionId": "TX-CABLE"} | fields.pop("info", {})
    return {
        "eventType": event_type,
        "timestamp": _iso(datetime.now(UTC)),
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": info,
        **fields,
    }


async def test_cable_first_201_session_is_billed_once_with_the_end_register(
    billing: tuple[CpoBackend, HubSimulator],
) -> None:
    """Plug, then tap: the token arrives in an Updated. The Ended carries both the Begin
    and the End register sample (as several real chargers send it)."""
    server, hub = billing
    async with connect201(ocpp_url(server), "CS_BILL") as cs:
        await cs.start_up()
        started = _event(
            0,
            "Started",
            "CablePluggedIn",
            info={"chargingState": "EVConnected"},
            evse={"id": 1, "connectorId": 1},
            meterValue=[_register(1000, "Transaction.Begin")],
        )
        await cs.call_raw("TransactionEvent", started)
        tapped = _event(
            1,
            "Updated",
            "Authorized",
            info={"chargingState": "Charging"},
            idToken={"idToken": "DRV1", "type": "ISO14443"},
        )
        await cs.call_raw("TransactionEvent", tapped)
        await hub.wait_for(lambda s: bool(s.sessions))
        metered = _event(
            2, "Updated", "MeterValuePeriodic", meterValue=[_register(5000, "Sample.Periodic")]
        )
        await cs.call_raw("TransactionEvent", metered)
        ended = _event(
            3,
            "Ended",
            "EVCommunicationLost",
            info={"chargingState": "Idle", "stoppedReason": "EVDisconnected"},
            meterValue=[_register(1000, "Transaction.Begin"), _register(11000, "Transaction.End")],
        )
        await cs.call_raw("TransactionEvent", ended)
    await hub.wait_for(lambda s: bool(s.cdrs))
    assert len(hub.state.sessions) == 1
    [session] = hub.state.sessions.values()
    assert session["status"] == "COMPLETED"
    assert session["kwh"] == 10.0
    assert Decimal(str(session["total_cost"]["excl_vat"])) == expected_cost(Decimal(10))
    assert net_billed(hub.state) == (Decimal(10), expected_cost(Decimal(10)))


async def _reboot_mid_session(server: CpoBackend, hub: HubSimulator, ocpp_url: str) -> Any:
    """A 1.6 session from 1,000 Wh; at 2,000 Wh the charger reboots (we close it on that
    estimate), then delivers its queued stop at 21,000 Wh. Returns the simulator."""
    cp_context = connect16(ocpp_url, "CS_BILL", connectors=1)
    cp = await cp_context.__aenter__()
    await cp.start_up()
    start = await cp.start_transaction(1, "DRV1", meter_start=1000)
    await hub.wait_for(lambda s: bool(s.sessions))
    sample = {
        "timestamp": _iso(datetime.now(UTC)),
        "sampled_value": [{"value": "2000", "measurand": "Energy.Active.Import.Register"}],
    }
    await cp.meter_values(1, [sample], transaction_id=start.transaction_id)
    await cp.boot()
    return cp_context, cp, start.transaction_id


async def test_late_real_stop_after_a_reboot_credits_and_reissues_the_cdr(
    billing: tuple[CpoBackend, HubSimulator],
) -> None:
    server, hub = billing
    context, cp, transaction_id = await _reboot_mid_session(server, hub, ocpp_url(server))
    try:
        # No grace: the estimate (1 kWh) is sealed and sent at once.
        await hub.wait_for(lambda s: len(s.cdrs) == 1)
        assert net_billed(hub.state)[0] == Decimal(1)
        await cp.stop_transaction(transaction_id, meter_stop=21000, reason="PowerLoss")
        await hub.wait_for(lambda s: len(s.cdrs) == 3)
    finally:
        await context.__aexit__(None, None, None)
    credit = hub.state.cdrs[1]
    assert credit["credit"] is True
    assert credit["credit_reference_id"] == hub.state.cdrs[0]["id"]
    assert net_billed(hub.state) == (Decimal(20), expected_cost(Decimal(20)))
    assert len(hub.state.sessions) == 1
    [session] = hub.state.sessions.values()
    assert session["kwh"] == 20.0


async def test_late_real_stop_within_the_grace_makes_the_first_cdr(
    billing_with_grace: tuple[CpoBackend, HubSimulator],
) -> None:
    server, hub = billing_with_grace
    context, cp, transaction_id = await _reboot_mid_session(server, hub, ocpp_url(server))
    try:
        await hub.wait_for(lambda s: next(iter(s.sessions.values()))["status"] == "COMPLETED")
        await cp.stop_transaction(transaction_id, meter_stop=21000, reason="PowerLoss")
        await hub.wait_for(lambda s: bool(s.cdrs))
    finally:
        await context.__aexit__(None, None, None)
    assert len(hub.state.cdrs) == 1
    assert net_billed(hub.state) == (Decimal(20), expected_cost(Decimal(20)))

"""Commands from an eMSP reach real chargers; results come back on the response URL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from cpo_backend.app import CpoBackend
from simulators import ocpp201
from simulators.ocpi_hub import HubSimulator
from simulators.ocpp16 import connect
from tests.conftest import eventually, make_settings
from tests.e2e.ocpi_support import (
    QUICK_OUTBOX,
    active_transactions,
    backend_fixture,
    hub_fixture,
    location_body,
    register_hub,
)


async def _charger_location(api: httpx.AsyncClient) -> None:
    body = location_body(("1", "CP_CMD", 1), ("2", "CP_CMD", 2), ("9", "CP_SILENT", 1))
    assert (await api.put("/api/locations/LOC1", json=body)).is_success


backend = backend_fixture(ocpi=QUICK_OUTBOX, ocpp={"response_timeout": 1.0})
hub = hub_fixture(_charger_location)


async def result_of(hub: HubSimulator, reference: str) -> str:
    await hub.wait_for(lambda s: reference in s.command_results)
    return str(hub.state.command_results[reference]["result"])


async def test_start_and_stop_session(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    token = hub.token("DRV1", whitelist="ALLOWED")
    hub.state.tokens["DRV1"] = token
    async with connect(ocpp_url, "CP_CMD", connectors=2) as cp:
        await cp.start_up()
        reference, response = await hub.command(
            "START_SESSION", token=token, location_id="LOC1", evse_uid="2"
        )
        assert response["status_code"] == 1000
        assert response["data"]["result"] == "ACCEPTED"
        assert response["data"]["timeout"] >= 1
        assert await result_of(hub, reference) == "ACCEPTED"

        def active() -> Awaitable[list[dict[str, Any]]]:
            return active_transactions(api, "CP_CMD")

        await eventually(active)
        session = (await active())[0]
        assert session["id_token"] == "DRV1"
        assert session["evse_id"] == 2
        # Announced PENDING when the charger accepted, ACTIVE once it started.
        await hub.wait_for(lambda s: any(x.get("status") == "ACTIVE" for x in s.sessions.values()))
        [pending, *changes] = hub.pushes("sessions")
        assert pending.method == "PUT"
        assert pending.body["status"] == "PENDING"
        assert pending.body["auth_method"] == "COMMAND"
        assert pending.body["evse_uid"] == "2"
        assert changes[0].body["status"] == "ACTIVE"
        session_id = pending.body["id"]
        assert session_id != str(session["id"])
        _reference, unknown = await hub.command("STOP_SESSION", session_id=str(session["id"]))
        assert unknown["data"]["result"] == "UNKNOWN_SESSION", "not a Session id we gave"
        reference, response = await hub.command("STOP_SESSION", session_id=session_id)
        assert response["data"]["result"] == "ACCEPTED"
        assert await result_of(hub, reference) == "ACCEPTED"

        async def stopped() -> bool:
            return not await active()

        await eventually(stopped)
    # The Session follows the transaction from the event log, after the charger's commit.
    await hub.wait_for(lambda s: s.sessions[session_id]["status"] == "COMPLETED")
    _reference, stopped_one = await hub.command("STOP_SESSION", session_id=session_id)
    assert stopped_one["data"]["result"] == "UNKNOWN_SESSION"


async def test_unlock_and_reservations(hub: HubSimulator, ocpp_url: str) -> None:
    token = hub.token("DRV2")
    async with connect(ocpp_url, "CP_CMD", connectors=2) as cp:
        await cp.start_up()
        reference, _ = await hub.command(
            "UNLOCK_CONNECTOR", location_id="LOC1", evse_uid="1", connector_id="1"
        )
        assert await result_of(hub, reference) == "ACCEPTED"
        reference, _ = await hub.command(
            "RESERVE_NOW",
            token=token,
            expiry_date="2099-01-01T00:00:00Z",
            reservation_id="R-1",
            location_id="LOC1",
            evse_uid="1",
        )
        assert await result_of(hub, reference) == "ACCEPTED"
        reference, _ = await hub.command("CANCEL_RESERVATION", reservation_id="R-1")
        assert await result_of(hub, reference) == "ACCEPTED"
        reference, _ = await hub.command("CANCEL_RESERVATION", reservation_id="R-1")
        assert await result_of(hub, reference) == "UNKNOWN_RESERVATION"


async def test_offline_silent_and_unknown(hub: HubSimulator, ocpp_url: str) -> None:
    token = hub.token("DRV3")
    _, unknown = await hub.command("START_SESSION", token=token, location_id="NOWHERE")
    assert unknown["status_code"] == 2003
    _, invalid = await hub.command("START_SESSION", location_id="LOC1")
    assert invalid["status_code"] == 2001
    reference, _ = await hub.command("START_SESSION", token=token, location_id="LOC1", evse_uid="1")
    assert await result_of(hub, reference) == "FAILED"
    async with websockets.connect(f"{ocpp_url}/CP_SILENT", subprotocols=[Subprotocol("ocpp1.6")]):
        reference, _ = await hub.command(
            "START_SESSION", token=token, location_id="LOC1", evse_uid="9"
        )
        assert await result_of(hub, reference) == "TIMEOUT"


async def test_commands_survive_a_restart(database_url: str) -> None:
    """A result owed when the back-end stops is still reported, and an eMSP's reservation
    can be cancelled after the restart."""
    settings = make_settings(database_url, ocpi=QUICK_OUTBOX, ocpp={"response_timeout": 30.0})
    async with HubSimulator() as hub:
        first = CpoBackend(settings)
        await first.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{first.http_port}") as api:
                await register_hub(api, hub)
                await _charger_location(api)
            ocpp_url = f"ws://127.0.0.1:{first.ocpp_port}"
            async with connect(ocpp_url, "CP_CMD", connectors=2) as cp:
                await cp.start_up()
                reserved, _ = await hub.command(
                    "RESERVE_NOW",
                    token=hub.token("DRV4"),
                    expiry_date="2099-01-01T00:00:00Z",
                    reservation_id="KEEP",
                    location_id="LOC1",
                    evse_uid="1",
                )
                assert await result_of(hub, reserved) == "ACCEPTED"
            silent = f"{ocpp_url}/CP_SILENT"
            async with websockets.connect(silent, subprotocols=[Subprotocol("ocpp1.6")]):
                cut_off, response = await hub.command(
                    "START_SESSION", token=hub.token("DRV5"), location_id="LOC1", evse_uid="9"
                )
                assert response["data"]["result"] == "ACCEPTED"
                await first.stop()
        finally:
            await first.stop()
        second = CpoBackend(settings)
        await second.start()
        try:
            # A graceful stop closes the charger's connection first (FAILED, delivered
            # after the restart); after a crash the row is still running (TIMEOUT).
            assert await result_of(hub, cut_off) in ("FAILED", "TIMEOUT")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{second.http_port}") as api:
                # Our address changed: tell the hub (credentials PUT), as an operator would.
                [partner] = (await api.get("/api/ocpi/partners")).json()
                assert (await api.post(f"/api/ocpi/partners/{partner['id']}/renew")).is_success
            async with connect(f"ws://127.0.0.1:{second.ocpp_port}", "CP_CMD", connectors=2) as cp:
                await cp.start_up()
                cancel, response = await hub.command("CANCEL_RESERVATION", reservation_id="KEEP")
                assert response["data"]["result"] == "ACCEPTED"
                # This charger instance forgot the reservation; what matters is that our
                # mapping did not, so the charger was asked.
                assert await result_of(hub, cancel) in ("ACCEPTED", "UNKNOWN_RESERVATION")
        finally:
            await second.stop()


process_tasks: set[asyncio.Task[bytes]] = set()


async def _serve_in_a_process(database_url: str) -> tuple[asyncio.subprocess.Process, int, int]:
    """``cpo-backend serve`` as its own process; (process, HTTP port, OCPP port)."""
    env = os.environ | {
        "CPO_DATABASE__URL": database_url,
        "CPO_HTTP__HOST": "127.0.0.1",
        "CPO_HTTP__PORT": "0",
        "CPO_OCPP__HOST": "127.0.0.1",
        "CPO_OCPP__PORT": "0",
        "CPO_OCPP__RESPONSE_TIMEOUT": "30",
        "CPO_LOGGING__LEVEL": "INFO",
        "CPO_LOGGING__JSON_OUTPUT": "true",
    }
    command = Path(sys.executable).with_name("cpo-backend")
    process = await asyncio.create_subprocess_exec(
        command,
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = process.stdout
    assert output is not None
    async with asyncio.timeout(30):
        while True:
            line = await output.readline()
            assert line, "the back-end exited during start-up"
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if record.get("event") == "cpo-backend started":
                    break
    # Keep reading, so that a full pipe never blocks the process.
    drain = asyncio.create_task(output.read())
    process_tasks.add(drain)
    drain.add_done_callback(process_tasks.discard)
    return process, int(record["http_port"]), int(record["ocpp_port"])


async def test_a_crash_with_a_command_in_flight_reports_timeout(database_url: str) -> None:
    async with HubSimulator() as hub:
        process, http_port, ocpp_port = await _serve_in_a_process(database_url)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as api:
                await register_hub(api, hub)
                await _charger_location(api)
            silent = f"ws://127.0.0.1:{ocpp_port}/CP_SILENT"
            async with websockets.connect(silent, subprotocols=[Subprotocol("ocpp1.6")]):
                reference, response = await hub.command(
                    "START_SESSION", token=hub.token("DRV6"), location_id="LOC1", evse_uid="9"
                )
                assert response["data"]["result"] == "ACCEPTED"
                process.kill()  # no goodbye: the charger's answer is lost with the process
                await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        restarted = CpoBackend(make_settings(database_url, ocpi=QUICK_OUTBOX))
        await restarted.start()
        try:
            assert await result_of(hub, reference) == "TIMEOUT"
        finally:
            await restarted.stop()


async def test_start_and_stop_on_a_201_station_to_a_cdr(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    body = location_body(("7", "CS_CMD201", 1))
    assert (await api.put("/api/locations/L201", json=body)).is_success
    token = hub.token("DRV201")
    hub.state.tokens["DRV201"] = token
    variables = {("SampledDataCtrlr", "TxUpdatedInterval"): "1"}
    async with ocpp201.connect(ocpp_url, "CS_CMD201", evses=1, variables=variables) as cs:
        await cs.start_up()
        reference, response = await hub.command(
            "START_SESSION", token=token, location_id="L201", evse_uid="7"
        )
        assert response["data"]["result"] == "ACCEPTED"
        assert await result_of(hub, reference) == "ACCEPTED"
        await hub.wait_for(lambda s: any(x.get("status") == "ACTIVE" for x in s.sessions.values()))
        [session_id] = hub.state.sessions

        async def charged() -> bool:
            [running] = await active_transactions(api, "CS_CMD201")
            return float(running["last_meter_wh"] or 0) > float(running["meter_start_wh"] or 0)

        await eventually(charged)  # meter values every second
        reference, response = await hub.command("STOP_SESSION", session_id=session_id)
        assert response["data"]["result"] == "ACCEPTED"
        assert await result_of(hub, reference) == "ACCEPTED"
        await hub.wait_for(lambda s: bool(s.cdrs))
    session = hub.state.sessions[session_id]
    assert session["status"] == "COMPLETED"
    assert session["auth_method"] == "COMMAND"
    [cdr] = hub.state.cdrs
    assert cdr["session_id"] == session_id
    assert cdr["cdr_location"]["evse_uid"] == "7"
    query = {"station_id": "CS_CMD201"}
    [transaction] = (await api.get("/api/transactions", params=query)).json()
    energy_kwh = (float(transaction["meter_stop_wh"]) - float(transaction["meter_start_wh"])) / 1000
    assert energy_kwh > 0
    assert cdr["total_energy"] == pytest.approx(energy_kwh, abs=0.001)
    assert session["kwh"] == pytest.approx(energy_kwh, abs=0.001)

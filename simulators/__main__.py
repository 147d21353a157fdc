"""``cpo-sim``: run one or many simulated chargers against a CSMS from the command line.

Example::

    cpo-sim run --url ws://127.0.0.1:9000/ocpp --id CP_1 --ocpp 1.6 --charge TAG1 --duration 60
    cpo-sim run --url ws://127.0.0.1:9000/ocpp --count 100 --prefix LOAD_ --ramp 20

Each charger boots, reports its statuses, heartbeats and optionally charges; every
message is logged on one line. Ctrl-C ends running sessions, then closes the sockets;
a second Ctrl-C aborts at once. ``--begin-and-end-in-ended``, ``--reuse-seq-no`` and
``--remote-start-without-id-token`` make 2.0.1 stations behave as some third-party ones
do (see :class:`~simulators.ocpp201.ChargingStation201`); a run never reconnects, so the
simulators' ``boot_on_reconnect`` has no flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import typer
from websockets.exceptions import InvalidHandshake, WebSocketException

from simulators.ocpp16 import ChargePoint16
from simulators.ocpp201 import ChargingStation201

log = logging.getLogger("simulators")
app = typer.Typer(no_args_is_help=True, add_completion=False)

SHUTDOWN_GRACE = 10.0
"""Seconds Ctrl-C leaves running sessions to send their stop messages."""


class Version(StrEnum):
    """The OCPP versions the simulator speaks."""

    V16 = "1.6"
    V201 = "2.0.1"


@dataclass(frozen=True)
class Plan:
    """What every charger of a run does."""

    url: str
    version: Version
    outlets: int
    password: str | None
    heartbeat: int | None
    meter_interval: int
    id_tag: str | None
    duration: float
    sessions: int
    pause: float
    tls: ssl.SSLContext | None
    begin_and_end_in_ended: bool
    reuse_seq_no: bool
    remote_start_without_id_token: bool


def build(plan: Plan, cp_id: str) -> ChargePoint16 | ChargingStation201:
    """Create the simulator of one charger."""
    if plan.version is Version.V16:
        return ChargePoint16(cp_id, connectors=plan.outlets, password=plan.password)
    return ChargingStation201(
        cp_id,
        evses=plan.outlets,
        password=plan.password,
        begin_and_end_in_ended=plan.begin_and_end_in_ended,
        reuse_seq_no=plan.reuse_seq_no,
        remote_start_without_id_token=plan.remote_start_without_id_token,
    )


async def run_charger(plan: Plan, cp_id: str, stopping: asyncio.Event) -> None:
    """Boot one charger, heartbeat, run the planned sessions, then idle until stopped."""
    sim = build(plan, cp_id)
    try:
        async with sim.session(plan.url, ssl=plan.tls):
            await sim.start_up()
            if plan.heartbeat is not None:
                sim.heartbeat_setting().value = str(plan.heartbeat)
            sim.sample_interval_setting().value = str(plan.meter_interval)
            sim.start_heartbeat()
            charging = asyncio.create_task(_charge(plan, sim)) if plan.id_tag else None
            await stopping.wait()
            await _wind_down(sim, charging)
    except (OSError, TimeoutError, InvalidHandshake, WebSocketException) as error:
        log.error("%s stopped: %r", cp_id, error)


async def _charge(plan: Plan, sim: ChargePoint16 | ChargingStation201) -> None:
    assert plan.id_tag is not None
    number = 0
    while plan.sessions == 0 or number < plan.sessions:
        number += 1
        session = await sim.plug_in_and_charge(1, plan.id_tag, duration=plan.duration)
        log.info("%s session %d: %s", sim.id, number, session)
        await asyncio.sleep(plan.pause)


async def _wind_down(
    sim: ChargePoint16 | ChargingStation201, charging: asyncio.Task[None] | None
) -> None:
    """Let running sessions stop cleanly (bounded), then let the caller close."""
    for outlet in sim.outlets.values():
        if outlet.in_session:
            outlet.request_stop("Local")
    if charging is None:
        return
    try:
        async with asyncio.timeout(SHUTDOWN_GRACE):
            await asyncio.gather(*(o.idle.wait() for o in sim.outlets.values()))
    finally:
        charging.cancel()
        await asyncio.gather(charging, return_exceptions=True)


async def run_all(plan: Plan, ids: list[str], ramp: float) -> None:
    """Run every charger, starting ``ramp`` per second, until Ctrl-C (or all failed)."""
    stopping = asyncio.Event()
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def interrupt() -> None:
        if stopping.is_set() and main is not None:
            main.cancel()
        log.info("stopping (Ctrl-C again to abort)")
        stopping.set()

    loop.add_signal_handler(signal.SIGINT, interrupt)
    loop.add_signal_handler(signal.SIGTERM, interrupt)
    chargers: list[asyncio.Task[None]] = []
    try:
        for index, cp_id in enumerate(ids):
            if stopping.is_set():
                break
            if index and ramp > 0:
                await asyncio.sleep(1 / ramp)
            chargers.append(asyncio.create_task(run_charger(plan, cp_id, stopping)))
        await asyncio.gather(*chargers)
    finally:
        for task in chargers:
            task.cancel()
        await asyncio.gather(*chargers, return_exceptions=True)
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)


@app.callback()
def cli() -> None:
    """Scriptable OCPP 1.6J / 2.0.1 charger simulators."""


@app.command()
def run(
    url: Annotated[str, typer.Option(help="CSMS endpoint, e.g. ws://host:9000/ocpp")],
    id: Annotated[str, typer.Option("--id", help="Charger identity (single charger)")] = "CP_1",
    ocpp: Annotated[Version, typer.Option(help="OCPP version")] = Version.V16,
    connectors: Annotated[int, typer.Option(help="Connectors (1.6) or EVSEs (2.0.1)")] = 2,
    password: Annotated[str | None, typer.Option(help="HTTP Basic auth password")] = None,
    count: Annotated[int, typer.Option(help="Number of chargers in this process")] = 1,
    prefix: Annotated[str, typer.Option(help="Identity prefix when --count > 1")] = "CP_",
    ramp: Annotated[float, typer.Option(help="New connections per second")] = 10.0,
    heartbeat: Annotated[
        int | None, typer.Option(help="Heartbeat seconds (default: the CSMS's interval)")
    ] = None,
    meter_interval: Annotated[int, typer.Option(help="Meter sample seconds")] = 10,
    charge: Annotated[
        str | None, typer.Option(help="Id tag/token to charge with on connector/EVSE 1")
    ] = None,
    duration: Annotated[float, typer.Option(help="Seconds per charging session")] = 60.0,
    sessions: Annotated[int, typer.Option(help="Sessions per charger (0: forever)")] = 1,
    pause: Annotated[float, typer.Option(help="Seconds between sessions")] = 5.0,
    insecure: Annotated[bool, typer.Option(help="Skip TLS certificate checks (wss)")] = False,
    verbose: Annotated[bool, typer.Option(help="Also log raw OCPP frames")] = False,
    begin_and_end_in_ended: Annotated[
        bool, typer.Option(help="2.0.1: Ended repeats the Transaction.Begin sample")
    ] = False,
    reuse_seq_no: Annotated[
        bool, typer.Option(help="2.0.1: every TransactionEvent has seqNo 0")
    ] = False,
    remote_start_without_id_token: Annotated[
        bool, typer.Option(help="2.0.1: remote starts report remoteStartId, no idToken")
    ] = False,
) -> None:
    """Connect chargers, boot them and keep them alive; optionally charge."""
    if ocpp is Version.V16 and (
        begin_and_end_in_ended or reuse_seq_no or remote_start_without_id_token
    ):
        raise typer.BadParameter("these behaviours are 2.0.1 ones", param_hint="--ocpp")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("ocpp").setLevel(logging.INFO if verbose else logging.WARNING)
    tls = None
    if insecure and url.startswith("wss"):
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    plan = Plan(
        url=url,
        version=ocpp,
        outlets=connectors,
        password=password,
        heartbeat=heartbeat,
        meter_interval=meter_interval,
        id_tag=charge,
        duration=duration,
        sessions=sessions,
        pause=pause,
        tls=tls,
        begin_and_end_in_ended=begin_and_end_in_ended,
        reuse_seq_no=reuse_seq_no,
        remote_start_without_id_token=remote_start_without_id_token,
    )
    ids = [id] if count == 1 else [f"{prefix}{n}" for n in range(1, count + 1)]
    try:
        asyncio.run(run_all(plan, ids, ramp))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log.warning("aborted")


@app.command()
def hub(
    versions_url: Annotated[
        str | None, typer.Option(help="The CPO's OCPI versions URL, to register with it")
    ] = None,
    token_a: Annotated[str | None, typer.Option(help="Token A the CPO issued")] = None,
    port: Annotated[int, typer.Option(help="Port of the hub's own OCPI server")] = 9100,
    ocpi_version: Annotated[
        str, typer.Option(help="OCPI version the hub speaks: 2.2.1 or 2.1.1")
    ] = "2.2.1",
) -> None:
    """Run an OCPI eMSP/hub simulator; register with a CPO or print a token A."""
    from simulators.ocpi_hub import run_hub

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_hub(versions_url, token_a, port, ocpi_version))


def main() -> None:
    """Console entry point (``cpo-sim``)."""
    app()


if __name__ == "__main__":
    main()

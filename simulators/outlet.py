"""The electrical side of a simulated charger: meter, outlet state and the charging loop.

Both protocol versions charge the same way; only how a sample is put on the wire differs
(a 1.6 connector or a 2.0.1 EVSE), so the versions pass a callback to :func:`charge`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

TxId = TypeVar("TxId")

MEASURAND_UNITS: dict[str, str] = {
    "Energy.Active.Import.Register": "Wh",
    "Power.Active.Import": "W",
    "Current.Import": "A",
    "Current.Offered": "A",
    "Voltage": "V",
}
"""The measurands the simulated meter can sample, with their units."""

DEFAULT_MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import"


class Sample(NamedTuple):
    """One sampled value, protocol-neutral; ``phase`` is ``None`` for totals."""

    measurand: str
    value: float
    unit: str
    phase: str | None = None


@dataclass
class Meter:
    """An energy register that runs at a constant power while charging.

    The register is computed from the monotonic clock rather than ticked, so it is
    exact at any instant and costs nothing while idle.
    """

    power_w: float = 11_000.0
    voltage_v: float = 230.0
    phases: int = 3
    offered_a: float = 32.0
    _wh: float = 0.0
    _since: float | None = None

    @property
    def charging(self) -> bool:
        """Whether energy is flowing."""
        return self._since is not None

    @property
    def energy_wh(self) -> float:
        """The register now, in Wh."""
        if self._since is None:
            return self._wh
        return self._wh + self.power_w * (time.monotonic() - self._since) / 3600

    def start(self) -> None:
        """Let energy flow (idempotent)."""
        if self._since is None:
            self._since = time.monotonic()

    def stop(self) -> None:
        """Stop the flow, keeping the register (idempotent)."""
        self._wh = self.energy_wh
        self._since = None

    def samples(self, measurands: Iterable[str]) -> list[Sample]:
        """Sample ``measurands``; unknown names are skipped. Currents and voltages per phase."""
        power = self.power_w if self.charging else 0.0
        phases = [f"L{n}" for n in range(1, self.phases + 1)]
        values: dict[str, list[Sample]] = {
            "Energy.Active.Import.Register": [Sample("", round(self.energy_wh), "")],
            "Power.Active.Import": [Sample("", round(power, 1), "")],
            "Current.Import": [
                Sample("", round(power / self.voltage_v / self.phases, 2), "", p) for p in phases
            ],
            "Current.Offered": [Sample("", self.offered_a, "")],
            "Voltage": [Sample("", self.voltage_v, "", f"{p}-N") for p in phases],
        }
        return [
            sample._replace(measurand=name, unit=MEASURAND_UNITS[name])
            for name in measurands
            for sample in values.get(name, [])
        ]


def parse_measurands(text: str) -> list[str] | None:
    """Split a comma-separated measurand list; ``None`` if one is unsupported."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    return names if all(name in MEASURAND_UNITS for name in names) else None


@dataclass
class Reservation:
    """A reservation held by an outlet until ``expiry`` (an OCPP timestamp)."""

    reservation_id: int
    id_tag: str
    expiry: str
    timer: asyncio.Task[object] | None = None


def _set_event() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


@dataclass
class Outlet(Generic[TxId]):
    """What a 1.6 connector and a 2.0.1 EVSE share: status, meter and one session.

    A session starts as soon as it is decided (e.g. when a RemoteStart is accepted) so
    that a second request is rejected before any message went out; ``idle`` lets a
    reset wait for the running session to wind down.
    """

    status: str = "Available"
    meter: Meter = field(default_factory=Meter)
    operative: bool = True
    pending_operative: bool | None = None
    reservation: Reservation | None = None
    transaction_id: TxId | None = None
    id_tag: str | None = None
    stop_reason: str | None = None
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    idle: asyncio.Event = field(default_factory=_set_event)

    @property
    def in_session(self) -> bool:
        """Whether a session (from preparing to finishing) is running."""
        return not self.idle.is_set()

    def begin_session(self) -> None:
        """Mark the outlet busy and forget any earlier stop request."""
        self.idle.clear()
        self.stop_reason = None
        self.stop_requested.clear()

    def end_session(self) -> None:
        """Mark the outlet free again."""
        self.transaction_id = None
        self.id_tag = None
        self.idle.set()

    def request_stop(self, reason: str) -> None:
        """Ask the running session to end with ``reason``."""
        self.stop_reason = reason
        self.stop_requested.set()


async def charge(
    outlet: Outlet[TxId],
    *,
    interval: Callable[[], float],
    send_sample: Callable[[], Awaitable[object]],
    duration: float | None = None,
    energy_wh: float | None = None,
) -> str | None:
    """Charge until stopped, ``duration`` seconds or ``energy_wh`` delivered.

    Sends a sample every ``interval()`` seconds (read each time, so a configuration
    change applies at once; 0 disables sampling). Returns the reason passed to
    :meth:`Outlet.request_stop`, or ``None`` when a limit was reached.
    """
    meter = outlet.meter
    start, start_wh = time.monotonic(), meter.energy_wh
    next_sample = start + interval()
    while True:
        now = time.monotonic()
        deadlines = [next_sample] if interval() > 0 else []
        if duration is not None:
            deadlines.append(start + duration)
        if energy_wh is not None and meter.charging and meter.power_w > 0:
            missing = start_wh + energy_wh - meter.energy_wh
            deadlines.append(now + missing * 3600 / meter.power_w)
        try:
            async with asyncio.timeout(max(0.0, min(deadlines) - now) if deadlines else None):
                await outlet.stop_requested.wait()
            return outlet.stop_reason
        except TimeoutError:
            pass
        now = time.monotonic()
        if (duration is not None and now >= start + duration) or (
            energy_wh is not None and meter.energy_wh >= start_wh + energy_wh - 1e-3
        ):
            return None
        if interval() > 0 and now >= next_sample:
            await send_sample()
            next_sample = now + interval()


@dataclass
class ChargingSession(Generic[TxId]):
    """The outcome of a charging flow, for tests to assert on.

    ``accepted`` is false when the CSMS refused the id tag/token; then no energy was
    delivered and ``transaction_id`` may still be set if the refusal came on start.
    """

    id_tag: str
    accepted: bool = False
    transaction_id: TxId | None = None
    meter_start_wh: int | None = None
    meter_stop_wh: int | None = None
    stop_reason: str | None = None

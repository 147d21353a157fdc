"""Session, availability and reservation rules common to 1.6 connectors and 2.0.1 EVSEs.

Both versions decide the same things the same way (which outlet a remote start takes,
when an availability change must be Scheduled, whether a reservation is possible, how a
reset winds sessions down); only the messages differ. :class:`Station` keeps the rules
and asks the protocol subclass for the messages through a few abstract methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, Generic, TypeVar

from simulators.base import Simulator
from simulators.common import handles, seconds_until
from simulators.outlet import ChargingSession, Outlet, Reservation
from simulators.settings import Setting

OutletT = TypeVar("OutletT", bound=Outlet[Any])
T = TypeVar("T")


class Station(Simulator, Generic[OutletT]):
    """A simulator whose outlets (connectors or EVSEs) are numbered from 1."""

    outlets: dict[int, OutletT]
    boot_on_reconnect: bool
    """Whether the station sends a BootNotification after every reconnect (the
    constructors' switch); its transactions go on, as it did not really reboot."""

    # -- what the protocol subclass provides ------------------------------------------

    async def boot(self) -> Any:
        """Send BootNotification as at power-up; return the version's answer."""
        raise NotImplementedError

    async def _report(self, outlet: OutletT) -> None:
        """Send the status of an outlet that has no session."""
        raise NotImplementedError

    async def _stop_without_flow(self, outlet: OutletT, reason: str) -> None:
        """End a transaction that a test opened with the low-level methods."""
        raise NotImplementedError

    def sample_interval_setting(self) -> Setting:
        """The configuration value holding the meter sampling interval of transactions."""
        raise NotImplementedError

    # -- connection -------------------------------------------------------------------

    async def _on_reconnected(self) -> None:
        """Boot first when the station boots on every reconnect; subclasses go on from here.

        Nothing is stopped or forgotten: outlets keep their transaction ids and meters, and
        charging flows carry on with the same transactions once the reconnection is done.
        """
        if self.boot_on_reconnect:
            await self.boot()

    # -- sessions ---------------------------------------------------------------------

    def _rest_status(self, outlet: OutletT) -> str:
        """The status of an outlet without a session (same names in 1.6 and 2.0.1)."""
        if not outlet.operative:
            return "Unavailable"
        return "Reserved" if outlet.reservation else "Available"

    def _by_transaction(self, transaction_id: object) -> OutletT | None:
        return next((o for o in self.outlets.values() if o.transaction_id == transaction_id), None)

    def _pick_for_remote_start(self, outlet_id: int | None, id_tag: str) -> OutletT | None:
        """The outlet a remote start may use: the asked one or the first free one."""
        if outlet_id is None:
            candidates = [o for o in self.outlets.values() if o.status == "Available"]
        else:
            candidates = [self.outlets[outlet_id]] if outlet_id in self.outlets else []
        for outlet in candidates:
            reservation = outlet.reservation
            if (
                not outlet.in_session
                and outlet.transaction_id is None
                and outlet.operative
                and (reservation is None or reservation.id_tag == id_tag)
            ):
                return outlet
        return None

    async def _run_session(
        self, outlet: OutletT, session: Awaitable[ChargingSession[T]]
    ) -> ChargingSession[T]:
        """Await a charging flow, then apply a scheduled availability and report the rest status."""
        if not outlet.in_session:
            outlet.begin_session()
        try:
            result = await session
            if outlet.pending_operative is not None:
                outlet.operative, outlet.pending_operative = outlet.pending_operative, None
            await self._report(outlet)
            return result
        finally:
            outlet.end_session()

    def request_stop(self, outlet_id: int, reason: str = "Local") -> None:
        """End the running session of outlet ``outlet_id`` with ``reason``."""
        self.outlets[outlet_id].request_stop(reason)

    async def _stop_now(self, outlet: OutletT, reason: str) -> None:
        """Stop the outlet's transaction, also one opened without a flow."""
        if outlet.in_session:
            outlet.request_stop(reason)
            await outlet.idle.wait()
        elif outlet.transaction_id is not None:
            await self._stop_without_flow(outlet, reason)
            await self._report(outlet)

    async def _stop_all(self, reason: str, outlets: Iterable[OutletT] | None = None) -> None:
        chosen = self.outlets.values() if outlets is None else outlets
        await asyncio.gather(*(self._stop_now(o, reason) for o in chosen))

    async def _report_each(self, outlets: Iterable[OutletT]) -> None:
        for outlet in outlets:
            await self._report(outlet)

    # -- availability -----------------------------------------------------------------

    def _change_availability(self, outlets: Iterable[OutletT], operative: bool) -> bool:
        """Apply at once, or schedule for busy outlets; report changes after the reply.

        Returns whether anything was scheduled.
        """
        changed: list[OutletT] = []
        scheduled = False
        for outlet in outlets:
            if not operative and (outlet.in_session or outlet.transaction_id is not None):
                outlet.pending_operative, scheduled = False, True
            elif outlet.operative != operative:
                outlet.operative = operative
                changed.append(outlet)
        self._after_reply(lambda: self._report_each(changed))
        return scheduled

    # -- reservations -----------------------------------------------------------------

    def _reservation_refusal(self, outlet: OutletT, reservation_id: int) -> str | None:
        """Why ``outlet`` cannot take the reservation (a ReserveNow status), else ``None``."""
        held = outlet.reservation
        if outlet.status == "Faulted":
            return "Faulted"
        if not outlet.operative:
            return "Unavailable"
        if (
            outlet.in_session
            or outlet.transaction_id is not None
            or (held is not None and held.reservation_id != reservation_id)
        ):
            return "Occupied"
        return None

    def _reserve(self, outlet: OutletT, reservation: Reservation) -> None:
        """Hold ``reservation`` (replacing one with the same id) until it expires.

        The outlet (Reserved) and any outlet the old reservation freed are reported after
        the reply.
        """
        freed = [o for o in self._release(reservation.reservation_id) if o is not outlet]
        reservation.timer = self._spawn(self._expire(outlet, reservation), background=True)
        outlet.reservation = reservation
        self._after_reply(lambda: self._report_each([*freed, outlet]))

    def _cancel_reservation(self, reservation_id: int) -> bool:
        """Drop the reservation ``reservation_id``; report freed outlets after the reply."""
        freed = self._release(reservation_id)
        self._after_reply(lambda: self._report_each(o for o in freed if not o.in_session))
        return bool(freed)

    def _release(self, reservation_id: int) -> list[OutletT]:
        held = [
            o
            for o in self.outlets.values()
            if o.reservation and o.reservation.reservation_id == reservation_id
        ]
        for outlet in held:
            self._drop_reservation(outlet)
        return held

    def _drop_reservation(self, outlet: OutletT) -> None:
        if outlet.reservation and outlet.reservation.timer:
            outlet.reservation.timer.cancel()
        outlet.reservation = None

    def _reservation_for(self, outlet: OutletT, id_tag: str) -> int | None:
        """The id of the outlet's reservation when ``id_tag`` may use it."""
        reservation = outlet.reservation
        return reservation.reservation_id if reservation and reservation.id_tag == id_tag else None

    async def _expire(self, outlet: OutletT, reservation: Reservation) -> None:
        await asyncio.sleep(seconds_until(reservation.expiry))
        if outlet.reservation is reservation:
            outlet.reservation = None
            if not outlet.in_session:
                await self._report(outlet)

    @handles("CancelReservation")
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> Any:
        """Drop a known reservation and report the freed outlet again."""
        accepted = self._cancel_reservation(reservation_id)
        return self._call_result.CancelReservation(status="Accepted" if accepted else "Rejected")

"""CDRs: sealed at the end of a session, priced, POSTed to the token's eMSP, pulled.

:class:`CdrSealer` turns every session whose end was recorded (``cdr_state`` pending,
written in the transaction that ended it) into a CDR: charging periods from the meter
values, priced by :mod:`cpo_backend.pricing` under the tariff that was valid at the
start of the session (kept on the session), the location as it is now. The CDR, the
session's new state and the outbox row for the POST are one write; a CDR is never
changed afterwards. The eMSP's ``Location`` header is stored when it acknowledges.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import insert, select, update

from cpo_backend.db.tables_ocpi import CdrRow, OutboxRow, SessionRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.events import DomainEvent, TransactionEnded
from cpo_backend.domain.locations import Location
from cpo_backend.domain.meter import DEFAULT_MEASURAND
from cpo_backend.domain.model import TransactionDetails
from cpo_backend.domain.time import format_utc, utc_now
from cpo_backend.ocpi.background import WakeableLoop
from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.outbox import OutboxWorker, Push, outbox_row
from cpo_backend.ocpi.owned import owned_router
from cpo_backend.ocpi.transport.client import PartnerReply
from cpo_backend.pricing import (
    MeterSample,
    PricingError,
    build_charging_periods,
    price_session,
    render_charging_periods,
)

log = structlog.get_logger(__name__)

POWER_MEASURAND = "Power.Active.Import"
LOCATION_FIELDS = ("name", "address", "city", "postal_code", "state", "country", "coordinates")


def meter_samples(details: TransactionDetails) -> list[MeterSample]:
    """Register and power readings per instant, with meterStart and meterStop at the ends."""
    energy: dict[Any, Decimal] = {}
    power: dict[Any, Decimal] = {}
    for value in details.meter_values:
        if value.value is None or value.phase is not None or value.after_stop:
            continue
        if value.measurand == DEFAULT_MEASURAND and value.unit == "Wh":
            energy[value.sampled_at] = value.value
        elif value.measurand == POWER_MEASURAND and value.unit == "W":
            power[value.sampled_at] = value.value
    if details.started_at is not None and details.meter_start_wh is not None:
        energy.setdefault(details.started_at, details.meter_start_wh)
    if details.stopped_at is not None and details.meter_stop_wh is not None:
        energy[details.stopped_at] = details.meter_stop_wh
    return [
        MeterSample(moment, energy_wh=energy.get(moment), power_w=power.get(moment))
        for moment in sorted(energy.keys() | power.keys())
    ]


def cdr_location(location: Location, session: Any) -> dict[str, Any]:
    evse = next(e for e in location.evses if e.uid == session.evse_uid)
    connector = next(
        (c for c in evse.details.get("connectors", []) if c.get("id") == session.connector_id),
        evse.details["connectors"][0],
    )
    found = {key: location.details[key] for key in LOCATION_FIELDS if key in location.details}
    return found | {
        "id": location.id,
        "evse_uid": evse.uid,
        "evse_id": evse.evse_id or evse.uid,
        "connector_id": session.connector_id,
        "connector_standard": connector["standard"],
        "connector_format": connector["format"],
        "connector_power_type": connector["power_type"],
    }


def build_cdr(
    ctx: OcpiContext, session: Any, details: TransactionDetails, location: Location
) -> dict[str, Any]:
    """The CDR of one completed session (raises ``PricingError`` on unusable data)."""
    start = session.start_date_time
    end = session.end_date_time or start
    zone = location.details.get("time_zone", "UTC")
    tariff = session.tariff
    periods = build_charging_periods(meter_samples(details), start, end, tariff=tariff, tz=zone)
    if tariff is not None:
        totals = price_session(tariff, periods, zone).ocpi_totals()
    else:
        hours = Decimal((end - start).total_seconds()) / 3600
        totals = {
            "total_cost": {"excl_vat": 0},
            "total_energy": float(round(session.kwh, 3)),
            "total_time": float(round(hours, 4)),
        }
    cdr: dict[str, Any] = {
        "country_code": ctx.us.country_code,
        "party_id": ctx.us.party_id,
        "id": f"{ctx.us.party_id}{session.id}",
        "start_date_time": format_utc(start),
        "end_date_time": format_utc(end),
        "session_id": str(session.id),
        "cdr_token": session.cdr_token,
        "auth_method": session.auth_method,
        "cdr_location": cdr_location(location, session),
        "currency": session.currency,
        "charging_periods": render_charging_periods(periods),
        **totals,
        "last_updated": format_utc(utc_now()),
    }
    if tariff is not None:
        cdr["tariffs"] = [tariff]
    return cdr


class CdrSealer:
    """Seals owed CDRs; woken by ended transactions, and at start for what a stop left."""

    def __init__(self, ctx: OcpiContext, outbox: OutboxWorker) -> None:
        self._ctx = ctx
        self._outbox = outbox
        self._loop = WakeableLoop("ocpi-cdrs", self.seal_pending, ctx.settings.outbox_poll_interval)
        outbox.after_delivery["cdrs"] = self._keep_location

    def notify(self, event: DomainEvent) -> None:
        if isinstance(event, TransactionEnded):
            self._loop.wake()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def seal_pending(self) -> bool:
        """One round: every owed CDR. Never asks for another round at once."""
        sessions = await self._ctx.db.fetch_all(
            select(SessionRow).where(SessionRow.cdr_state == "pending").order_by(SessionRow.id)
        )
        for session in sessions:
            await self._seal(session)
        return False

    async def _seal(self, session: Any) -> None:
        ctx = self._ctx
        try:
            details = await ctx.transactions.details(session.id)
            location = await ctx.locations.get(session.location_id)
            cdr = build_cdr(ctx, session, details, location)
        except (PricingError, LookupError, ValueError) as error:
            log.exception("CDR cannot be built", session=session.id)
            await self._mark(session.id, "failed", str(error))
            return
        push = Push("cdrs", "POST", "", f"cdr:{cdr['id']}", cdr)

        async def op(tx: WriteTx) -> None:
            await tx.execute(
                insert(CdrRow).values(
                    id=cdr["id"],
                    session_id=session.id,
                    partner_id=session.partner_id,
                    data=cdr,
                    last_updated=utc_now(),
                )
            )
            await tx.execute(
                update(SessionRow).where(SessionRow.id == session.id).values(cdr_state="sealed")
            )
            await tx.execute(insert(OutboxRow).values(**outbox_row(session.partner_id, push)))

        await ctx.db.write(op)
        self._outbox.wake()

    async def _mark(self, session_id: int, state: str, _why: str) -> None:
        async def op(tx: WriteTx) -> None:
            await tx.execute(
                update(SessionRow).where(SessionRow.id == session_id).values(cdr_state=state)
            )

        await self._ctx.db.write(op)

    @staticmethod
    async def _keep_location(tx: WriteTx, row: Any, reply: PartnerReply) -> None:
        location = reply.headers.get("Location")
        if location:
            cdr_id = row.object_key.removeprefix("cdr:")
            await tx.execute(
                update(CdrRow).where(CdrRow.id == cdr_id).values(location_url=location)
            )


router = owned_router("/cdrs", CdrRow, CdrRow.session_id, lambda row, _ctx: row.data)

"""CDRs: sealed at the end of a session, priced, POSTed to the token's eMSP, pulled.

:class:`CdrSealer` turns every session whose end was recorded (``cdr_state`` pending,
written in the transaction that ended it) into a CDR: charging periods from the meter
values, priced by :mod:`cpo_backend.pricing` under the tariff that was valid at the
start of the session (kept on the session), the location as it is now. The CDR, the
session's new state and the outbox row for the POST are one write; a CDR is never
changed afterwards. The eMSP's ``Location`` header is stored when it acknowledges.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import insert, select, update

from cpo_backend.db.tables_ocpi import CdrRow, OutboxRow, SessionRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.cdrs import CdrNotCreditable, CdrNotFound
from cpo_backend.domain.events import DomainEvent, TransactionEnded
from cpo_backend.domain.locations import Location
from cpo_backend.domain.model import TransactionDetails
from cpo_backend.domain.time import format_utc, utc_now
from cpo_backend.ocpi.auth import module_caller, module_caller_211
from cpo_backend.ocpi.background import WakeableLoop
from cpo_backend.ocpi.charging import charged, meter_samples
from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.outbox import OutboxWorker, Push, outbox_row
from cpo_backend.ocpi.owned import owned_router
from cpo_backend.ocpi.sessions import token_owner
from cpo_backend.ocpi.shapes import shapes_of
from cpo_backend.ocpi.transport.client import PartnerReply
from cpo_backend.ocpi.transport.headers import Party
from cpo_backend.pricing import PricingError

log = structlog.get_logger(__name__)

# Appended to a CDR's id for its Credit CDR (CDR ids are 39 long to allow for it).
CREDIT_SUFFIX = "-C"
# CDRs sealed at once: pricing is CPU work in this loop, the reads and commits are not.
_PARALLEL = 16

LOCATION_FIELDS = ("name", "address", "city", "postal_code", "state", "country", "coordinates")


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
    ctx: OcpiContext,
    session: Any,
    details: TransactionDetails,
    location: Location,
    revision: int = 1,
) -> dict[str, Any]:
    """The CDR of one completed session (raises ``PricingError`` on unusable data);
    ``revision`` counts the CDRs of the session, credited ones included, so that a CDR
    issued again after a Credit CDR has an id of its own."""
    start = session.start_date_time
    end = session.end_date_time or start
    zone = location.details.get("time_zone", "UTC")
    tariff = session.tariff
    bill = charged(meter_samples(details), start, end, tariff, zone, session.kwh)
    cdr: dict[str, Any] = {
        "country_code": ctx.us.country_code,
        "party_id": ctx.us.party_id,
        "id": f"{ctx.us.party_id}{session.ocpi_id}" + (f"-{revision}" if revision > 1 else ""),
        "start_date_time": format_utc(start),
        "end_date_time": format_utc(end),
        "session_id": session.ocpi_id,
        "cdr_token": session.cdr_token,
        "auth_method": session.auth_method,
        "cdr_location": cdr_location(location, session),
        "currency": session.currency,
        "charging_periods": bill.rendered_periods(),
        **bill.totals,
        "last_updated": format_utc(utc_now()),
    }
    if tariff is not None:
        cdr["tariffs"] = [tariff]
    if session.authorization_reference:
        cdr["authorization_reference"] = session.authorization_reference
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
        """One round: every owed CDR, several at once (each waits for its own commit, and
        the writer batches the commits of many). Never asks for another round at once."""
        sessions = await self._ctx.db.fetch_all(
            select(SessionRow).where(SessionRow.cdr_state == "pending").order_by(SessionRow.id)
        )
        limit = asyncio.Semaphore(_PARALLEL)

        async def guarded(session: Any) -> None:
            async with limit:
                await self._seal(session)

        await asyncio.gather(*(guarded(session) for session in sessions))
        return False

    async def _seal(self, session: Any) -> None:
        ctx = self._ctx
        try:
            details = await ctx.transactions.details(session.transaction_id)
            location = await ctx.locations.get(session.location_id)
            owner = (await ctx.partners.access(session.partner_id)).partner
            earlier = await ctx.db.fetch_all(
                select(CdrRow.id).where(CdrRow.session_id == session.id)
            )
            revision = 1 + sum(1 for row in earlier if not row.id.endswith(CREDIT_SUFFIX))
            built = build_cdr(ctx, session, details, location, revision)
            # Sealed in the owner's version: the CDR is kept exactly as it was sent.
            cdr = shapes_of(owner).cdr(built, location)
        except (PricingError, LookupError, ValueError) as error:
            log.exception("CDR cannot be built", session=session.id)
            await self._mark(session.id, "failed", str(error))
            return
        to = token_owner(session.cdr_token)

        async def op(tx: WriteTx) -> None:
            await _keep_and_send(tx, cdr, session.id, session.partner_id, to, utc_now())
            await tx.execute(
                update(SessionRow).where(SessionRow.id == session.id).values(cdr_state="sealed")
            )

        await ctx.db.write(op)
        self._outbox.wake()

    async def _mark(self, session_id: int, state: str, _why: str) -> None:
        async def op(tx: WriteTx) -> None:
            await tx.execute(
                update(SessionRow).where(SessionRow.id == session_id).values(cdr_state=state)
            )

        await self._ctx.db.write(op)

    async def credit(self, cdr_id: str, *, reissue: bool) -> dict[str, Any]:
        """A Credit CDR for a sent one: the same data, ``credit`` set, the id with ``-C``
        appended, ``total_cost`` negated (OCPI 2.2.1); with ``reissue`` the session is
        sealed again into a new CDR, queued after the credit (same outbox object)."""
        ctx = self._ctx
        row = await ctx.db.fetch_one(select(CdrRow).where(CdrRow.id == cdr_id))
        if row is None:
            raise CdrNotFound(cdr_id)
        original: dict[str, Any] = row.data
        if original.get("credit") or "cdr_token" not in original:
            raise CdrNotCreditable("only 2.2.1 CDRs that are not credits themselves")
        now = utc_now()
        credit = original | {
            "id": f"{cdr_id}{CREDIT_SUFFIX}",
            "credit": True,
            "credit_reference_id": cdr_id,
            "total_cost": {k: -v if v else 0 for k, v in original["total_cost"].items()},
            "last_updated": format_utc(now),
        }
        to = token_owner(original["cdr_token"])

        async def op(tx: WriteTx) -> None:
            taken = await tx.execute(select(CdrRow.id).where(CdrRow.id == credit["id"]))
            if taken.first() is not None:
                raise CdrNotCreditable(f"{cdr_id} is credited already")
            await _keep_and_send(tx, credit, row.session_id, row.partner_id, to, now)
            if reissue:
                await tx.execute(
                    update(SessionRow)
                    .where(SessionRow.id == row.session_id)
                    .values(cdr_state="pending")
                )

        await ctx.db.write(op)
        self._outbox.wake()
        if reissue:
            self._loop.wake()
        return credit

    @staticmethod
    async def _keep_location(tx: WriteTx, row: Any, reply: PartnerReply) -> None:
        location = reply.headers.get("Location")
        if location and isinstance(row.body, dict):
            await tx.execute(
                update(CdrRow).where(CdrRow.id == row.body["id"]).values(location_url=location)
            )


async def _keep_and_send(
    tx: WriteTx, cdr: dict[str, Any], session_id: int, partner_id: int, to: Party, now: datetime
) -> None:
    """Keep a CDR exactly as it is sent, and queue its POST to the eMSP, in one write."""
    await tx.execute(
        insert(CdrRow).values(
            id=cdr["id"], session_id=session_id, partner_id=partner_id, data=cdr, last_updated=now
        )
    )
    push = Push("cdrs", "POST", "", _cdrs_key(session_id), cdr, to)
    await tx.execute(insert(OutboxRow).values(**outbox_row(partner_id, push)))


def _cdrs_key(session_id: int) -> str:
    """One outbox object for all CDRs of a session: a credit and its reissue arrive in order."""
    return f"cdrs:{session_id}"


async def _sealed(rows: list[Any], _ctx: OcpiContext) -> list[Any]:
    """CDRs as sealed: in the version their owner agreed when they were sent."""
    return [row.data for row in rows]


# CDRs never change: creation order is stable.
ORDER = (CdrRow.last_updated, CdrRow.id)
router = owned_router("/cdrs", CdrRow, ORDER, _sealed, module_caller)
router_211 = owned_router("/cdrs", CdrRow, ORDER, _sealed, module_caller_211)

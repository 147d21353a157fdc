"""CDRs: sealed at the end of a session, priced, POSTed to the token's eMSP, pulled.

:class:`CdrSealer` turns every session whose end was recorded (``cdr_state`` pending,
written in the transaction that ended it) into a CDR: charging periods from the meter
values, priced by :mod:`cpo_backend.pricing` under the tariff that was valid at the
start of the session (kept on the session), the location as it is now. The CDR, the
session's new state and the outbox row for the POST are one write; a CDR is never
changed afterwards. The eMSP's ``Location`` header is stored when it acknowledges.

A session the charger stopped itself does not wait for a round of the sealer: the session
projector has its CDR built (:meth:`CdrSealer.closing`, from the same reading of the meter
values as the final cost) and sealed in the commit that completes the session. The sealer
takes the rest: ends on an estimate once their grace is over, the new CDR after a credit,
and a CDR that could not be built with the end (it records why).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import structlog
from sqlalchemy import bindparam, insert, or_, select, update

from cpo_backend.db.tables_ocpi import CdrRow, SessionRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.background import WakeableLoop
from cpo_backend.domain.model import TransactionDetails
from cpo_backend.domain.time import format_utc, utc_now
from cpo_backend.ocpi.auth import module_caller, module_caller_211
from cpo_backend.ocpi.charging import Charged, charged, meter_samples
from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.outbox import INSERT_ROW, OutboxWorker, Push, outbox_row
from cpo_backend.ocpi.owned import owned_router
from cpo_backend.ocpi.sessions import Closing, session_object_key, token_owner
from cpo_backend.ocpi.shapes import shapes_of
from cpo_backend.ocpi.transport.client import PartnerReply
from cpo_backend.ocpi.transport.headers import Party
from cpo_backend.pricing import PricingError
from cpo_backend.roaming.cdrs import CdrNotCreditable, CdrNotFound
from cpo_backend.roaming.locations import Location

log = structlog.get_logger(__name__)

# Appended to a CDR's id for its Credit CDR (CDR ids are 39 long to allow for it).
CREDIT_SUFFIX = "-C"
# CDRs sealed at once: pricing is CPU work in this loop, the reads and commits are not.
_PARALLEL = 16

# One statement object each, so that the CDRs sealed in one commit are one executemany.
_INSERT_CDR = insert(CdrRow)
_SEALED = update(SessionRow).where(SessionRow.id == bindparam("b_id")).values(cdr_state="sealed")

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


def session_bill(session: Any, details: TransactionDetails, location: Location) -> Charged:
    """A completed session's charging periods and totals, priced under its tariff in the
    location's time zone (raises ``PricingError`` on unusable data)."""
    start = session.start_date_time
    end = session.end_date_time or start
    zone = location.details.get("time_zone", "UTC")
    return charged(meter_samples(details), start, end, session.tariff, zone, session.kwh)


def build_cdr(
    ctx: OcpiContext,
    session: Any,
    location: Location,
    bill: Charged,
    revision: int = 1,
) -> dict[str, Any]:
    """The CDR of one completed session priced as ``bill`` (:func:`session_bill`);
    ``revision`` counts the CDRs of the session, credited ones included, so that a CDR
    issued again after a Credit CDR has an id of its own."""
    start = session.start_date_time
    end = session.end_date_time or start
    tariff = session.tariff
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

    def wake(self) -> None:
        """Look for owed CDRs now (the session projector just made some owed)."""
        self._loop.wake()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def seal_pending(self) -> bool:
        """One round: every owed CDR, several at once (each waits for its own commit, and
        the writer batches the commits of many). Never asks for another round at once."""
        sessions = await self._ctx.db.fetch_all(
            select(SessionRow)
            .where(
                SessionRow.cdr_state == "pending",
                or_(SessionRow.cdr_due_at.is_(None), SessionRow.cdr_due_at <= utc_now()),
            )
            .order_by(SessionRow.id)
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
            bill = session_bill(session, details, location)
            built = build_cdr(ctx, session, location, bill, revision)
            # Sealed in the owner's version: the CDR is kept exactly as it was sent.
            cdr = shapes_of(owner).cdr(built, location)
        except (PricingError, LookupError, ValueError) as error:
            log.exception("CDR cannot be built", session=session.id)
            await self._mark(session.id, "failed", str(error))
            return
        to = token_owner(session.cdr_token)

        async def op(tx: WriteTx) -> None:
            current = (
                await tx.execute(
                    select(SessionRow.cdr_state, SessionRow.last_updated).where(
                        SessionRow.id == session.id
                    )
                )
            ).one()
            if current.cdr_state != "pending" or current.last_updated != session.last_updated:
                # The session changed while its CDR was built (a correction, a reopen):
                # this CDR is stale; the next round builds it from the new values.
                return
            _keep_and_send(
                tx, cdr, (session.id, session.ocpi_id), session.partner_id, to, utc_now()
            )
            tx.defer(_SEALED, {"b_id": session.id})

        await ctx.db.write(op)
        self._outbox.wake()

    async def _mark(self, session_id: int, state: str, _why: str) -> None:
        async def op(tx: WriteTx) -> None:
            await tx.execute(
                update(SessionRow).where(SessionRow.id == session_id).values(cdr_state=state)
            )

        await self._ctx.db.write(op)

    async def closing(self, session: Any, kwh: Decimal, ended: datetime, *, seal: bool) -> Closing:
        """The ``total_cost`` the session's CDR will carry, for its COMPLETED PATCH, and
        with ``seal`` the CDR itself (first of its session), built from the same reading
        of the meter values; a CDR that cannot be built is left to the sealer, which
        records why."""
        if session.tariff is None and not seal:
            return Closing(None)
        ctx = self._ctx
        # The session as its COMPLETED PATCH leaves it: what the CDR is built from.
        at_end = {"status": "COMPLETED", "kwh": kwh, "end_date_time": ended}
        ended_session = SimpleNamespace(**(dict(session._mapping) | at_end))
        try:
            details = await ctx.transactions.details(session.transaction_id)
            location = await ctx.locations.get(session.location_id)
            # Priced once: the final cost and the CDR's periods and totals are one bill.
            bill = session_bill(ended_session, details, location)
        except (PricingError, LookupError, ValueError):
            log.exception("final cost cannot be priced", session=session.id)
            return Closing(None)
        total = bill.totals["total_cost"] if session.tariff is not None else None
        if not seal:
            return Closing(total)
        try:
            owner = (await ctx.partners.access(session.partner_id)).partner
            cdr = shapes_of(owner).cdr(build_cdr(ctx, ended_session, location, bill), location)
        except (PricingError, LookupError, ValueError):
            log.exception("CDR cannot be built with the end", session=session.id)
            return Closing(total)
        return Closing(total, cdr)

    def send(self, tx: WriteTx, session: Any, cdr: dict[str, Any]) -> None:
        _keep_and_send(
            tx,
            cdr,
            (session.id, session.ocpi_id),
            session.partner_id,
            token_owner(session.cdr_token),
            utc_now(),
        )

    async def credit(self, cdr_id: str, *, reissue: bool) -> dict[str, Any]:
        """A Credit CDR for a sent one: the same data, ``credit`` set, the id with ``-C``
        appended, ``total_cost`` negated (OCPI 2.2.1); with ``reissue`` the session is
        sealed again into a new CDR, queued after the credit (same outbox object)."""
        ctx = self._ctx
        row = await ctx.db.fetch_one(select(CdrRow).where(CdrRow.id == cdr_id))
        if row is None:
            raise CdrNotFound(cdr_id)
        credit = _credit_of(row)

        async def op(tx: WriteTx) -> None:
            taken = await tx.execute(select(CdrRow.id).where(CdrRow.id == credit["id"]))
            if taken.first() is not None:
                raise CdrNotCreditable(f"{cdr_id} is credited already")
            await _send_credit(tx, row, credit)
            if reissue:
                await tx.execute(
                    update(SessionRow)
                    .where(SessionRow.id == row.session_id)
                    .values(cdr_state="pending", cdr_due_at=utc_now())
                )

        await ctx.db.write(op)
        self._outbox.wake()
        if reissue:
            self._loop.wake()
        return credit

    async def credit_session(self, tx: WriteTx, session_id: int) -> bool:
        """Credit the session's newest CDR not credited yet, in ``tx``; False when there
        is none or it cannot be credited (a 2.1.1 CDR: that version has no credits)."""
        rows = (
            await tx.execute(
                select(CdrRow).where(CdrRow.session_id == session_id).order_by(CdrRow.id)
            )
        ).all()
        ids = {row.id for row in rows}
        open_cdrs = [
            row
            for row in rows
            if not row.id.endswith(CREDIT_SUFFIX) and f"{row.id}{CREDIT_SUFFIX}" not in ids
        ]
        if not open_cdrs:
            return False
        newest = max(open_cdrs, key=lambda row: (row.last_updated, row.id))
        try:
            credit = _credit_of(newest)
        except CdrNotCreditable:
            log.warning("a corrected session's CDR cannot be credited", cdr=newest.id)
            return False
        await _send_credit(tx, newest, credit)
        return True


async def keep_cdr_location(tx: WriteTx, row: Any, reply: PartnerReply) -> None:
    """After a CDR's delivery, with its outbox row: the eMSP's URL of it (Location)."""
    location = reply.headers.get("Location")
    if location and isinstance(row.body, dict):
        await tx.execute(
            update(CdrRow).where(CdrRow.id == row.body["id"]).values(location_url=location)
        )


def _credit_of(row: Any) -> dict[str, Any]:
    """The Credit CDR of a stored CDR (raises ``CdrNotCreditable`` for a credit or a
    2.1.1 CDR)."""
    original: dict[str, Any] = row.data
    if original.get("credit") or "cdr_token" not in original:
        raise CdrNotCreditable("only 2.2.1 CDRs that are not credits themselves")
    return original | {
        "id": f"{row.id}{CREDIT_SUFFIX}",
        "credit": True,
        "credit_reference_id": row.id,
        "total_cost": {k: -v if v else 0 for k, v in original["total_cost"].items()},
        "last_updated": format_utc(utc_now()),
    }


async def _send_credit(tx: WriteTx, row: Any, credit: dict[str, Any]) -> None:
    to = token_owner(credit["cdr_token"])
    session = (row.session_id, credit["session_id"])
    _keep_and_send(tx, credit, session, row.partner_id, to, utc_now())


def _keep_and_send(
    tx: WriteTx,
    cdr: dict[str, Any],
    session: tuple[int, str],
    partner_id: int,
    to: Party,
    now: datetime,
) -> None:
    """Keep a CDR exactly as it is sent, and queue its POST to the eMSP, in one write;
    ``session`` is the session's (internal id, OCPI id)."""
    session_id, ocpi_session_id = session
    row = {"id": cdr["id"], "session_id": session_id, "partner_id": partner_id}
    tx.defer(_INSERT_CDR, row | {"data": cdr, "last_updated": now})
    push = Push("cdrs", "POST", "", session_object_key(ocpi_session_id), cdr, to)
    tx.defer(INSERT_ROW, outbox_row(partner_id, push))


async def _sealed(rows: list[Any], _ctx: OcpiContext) -> list[Any]:
    """CDRs as sealed: in the version their owner agreed when they were sent."""
    return [row.data for row in rows]


# CDRs never change: creation order is stable.
ORDER = (CdrRow.last_updated, CdrRow.id)
router = owned_router("/cdrs", CdrRow, ORDER, _sealed, module_caller)
router_211 = owned_router("/cdrs", CdrRow, ORDER, _sealed, module_caller_211)

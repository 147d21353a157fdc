"""Sessions: projected from the event log, pushed to the token's eMSP, pulled.

:class:`SessionProjector` consumes the event log: a transaction with a partner's token
at an EVSE of ours becomes an OCPI Session (PUT), whether the token came with the start
or later (cable first: ``TransactionAuthorized``); its end completes it (PATCH with the
final energy and cost) and, after the charger's own stop, seals its CDR in the same
commit; when we closed it on an estimate, the CDR is owed after ``cdr_estimate_grace``.
A correction (the real stop after an estimate) PATCHes the corrected values and, when the
CDR was sealed already, credits it and has a new one issued. A transaction reopened (the
charger went on reporting it after a boot we had ended it at) makes its Session ACTIVE
again. It runs after the charger's commit, so nothing here can refuse or delay a charger.

:class:`SessionUpdater` keeps the eMSP informed while the session runs: at most every
``session_update_interval`` seconds (judged by the stored ``last_updated``, so restarts do
not reset it) a PATCH with the energy so far, the charging periods closed since the last
PATCH (2.2.1 appends them; 2.1.1 replaces the list, so it gets them all) and the running
cost under the session's tariff. It works off the writer: pricing reads every meter value
of the session, which must not hold up the chargers' writes.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol

import structlog
from sqlalchemy import bindparam, insert, select, update

from cpo_backend.db.projection import ProjectionWrite
from cpo_backend.db.tables import TransactionRow
from cpo_backend.db.tables_ocpi import (
    CommandRow,
    EvseRow,
    PartnerTokenRow,
    SessionRow,
    TariffRow,
)
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.background import WakeableLoop
from cpo_backend.domain.events import (
    DomainEvent,
    TransactionAuthorized,
    TransactionCorrected,
    TransactionEnded,
    TransactionMetered,
    TransactionReopened,
    TransactionStarted,
)
from cpo_backend.domain.paging import Executor
from cpo_backend.domain.time import format_utc, utc_now
from cpo_backend.ocpi.auth import module_caller, module_caller_211
from cpo_backend.ocpi.charging import charged, meter_samples
from cpo_backend.ocpi.context import VERSION, OcpiContext, reaching
from cpo_backend.ocpi.outbox import INSERT_ROW, OutboxWorker, Push, outbox_row, pending_objects
from cpo_backend.ocpi.owned import owned_router
from cpo_backend.ocpi.shapes import SHAPES, Shapes, shapes_of, speaks
from cpo_backend.ocpi.transport.headers import Party
from cpo_backend.ocpi.v211.sessions import render_session_211
from cpo_backend.pricing import PricingError, render_tariff
from cpo_backend.pricing.rounding import round_half_up
from cpo_backend.roaming.locations import REMOVED, Location, load_locations
from cpo_backend.roaming.partners import Partner
from cpo_backend.roaming.tariffs import as_tariff

log = structlog.get_logger(__name__)

PENDING = "PENDING"
ACTIVE = "ACTIVE"
COMPLETED = "COMPLETED"
INVALID = "INVALID"
# A START_SESSION makes the next start with its token at its station a COMMAND session,
# if the charger starts within this time (drivers take a while to plug in).
REMOTE_START_WINDOW = timedelta(minutes=15)


def kwh_number(value: Decimal) -> float:
    """kWh on the wire: 3 decimals, rounded half up as the pricing engine rounds."""
    return float(round_half_up(Fraction(value), 3))


def render_session(row: Mapping[str, Any], us: Party) -> dict[str, Any]:
    session: dict[str, Any] = {
        "country_code": us.country_code,
        "party_id": us.party_id,
        "id": row["ocpi_id"],
        "start_date_time": format_utc(row["start_date_time"]),
        "kwh": kwh_number(row["kwh"]),
        "cdr_token": row["cdr_token"],
        "auth_method": row["auth_method"],
        "location_id": row["location_id"],
        "evse_uid": row["evse_uid"],
        "connector_id": row["connector_id"],
        "currency": row["currency"],
        "status": row["status"],
        "last_updated": format_utc(row["last_updated"]),
    }
    if row["authorization_reference"]:
        session["authorization_reference"] = row["authorization_reference"]
    if row["end_date_time"] is not None:
        session["end_date_time"] = format_utc(row["end_date_time"])
    return session


def _kwh(meter_start: Decimal | None, meter_now: Decimal | None) -> Decimal:
    if meter_start is None or meter_now is None:
        return Decimal(0)
    return max(Decimal(0), (meter_now - meter_start) / 1000)


def token_owner(cdr_token: Mapping[str, Any]) -> Party:
    return Party(str(cdr_token["country_code"]).upper(), str(cdr_token["party_id"]).upper())


def session_object_key(ocpi_id: str) -> str:
    """The outbox object of a Session and its CDRs: a CDR never overtakes the PATCHes of
    its session, and a Credit CDR never overtakes the CDR it credits."""
    return f"session:{ocpi_id}"


def _push_session(
    tx: WriteTx,
    ctx: OcpiContext,
    session: Mapping[Any, Any],
    method: str,
    body: dict[str, Any],
) -> None:
    """Queue one push of ``session`` (its stored values) in ``tx``, for the token's owner
    (through a hub, when the partner is one); the rows of a commit are one insert."""
    us = ctx.us
    session_id = session["ocpi_id"]
    path = f"/{us.country_code}/{us.party_id}/{session_id}"
    to = token_owner(session["cdr_token"])
    push = Push("sessions", method, path, session_object_key(session_id), body, to)
    tx.defer(INSERT_ROW, outbox_row(session["partner_id"], push))


@dataclass(frozen=True, slots=True)
class _SessionPatch:
    """A PATCH of a Session, its body rendered for the owner's version: built where its
    reads may run (outside the writer when they must not hold it up), queued in the
    write that stores the change."""

    session: Any
    body: dict[str, Any]

    def queue(self, tx: WriteTx, ctx: OcpiContext) -> None:
        _push_session(tx, ctx, self.session._mapping, "PATCH", self.body)


async def _session_patch(
    ctx: OcpiContext,
    session: Any,
    changes: dict[str, Any],
    now: datetime,
    shapes: Shapes | None = None,
) -> _SessionPatch:
    """The PATCH of ``changes`` to ``session``, stamped with ``now``, the ``last_updated``
    stored with them, so that the partner's copy and ours agree; in ``shapes``, by default
    those of the session's partner."""
    if shapes is None:
        shapes = await _partner_shapes(ctx, session.partner_id)
    return _SessionPatch(
        session, shapes.session_changes(changes | {"last_updated": format_utc(now)})
    )


# Every new Session row has the same columns (see ``SessionProjector._session_row``): one
# statement object, so that the Sessions of a commit are one executemany.
_INSERT_SESSION = insert(SessionRow)


@dataclass(frozen=True, slots=True)
class Closing:
    """A session's end as priced outside the writer: the ``total_cost`` its COMPLETED
    PATCH states (None without a tariff, or when it cannot be priced) and, when asked
    for and possible, its CDR, sealed in the same commit."""

    total_cost: Any
    cdr: dict[str, Any] | None = None


class CdrIssuer(Protocol):
    """What the session projector needs of the CDR side (``cdrs.CdrSealer``)."""

    async def closing(self, session: Any, kwh: Decimal, ended: datetime, *, seal: bool) -> Closing:
        """Price the session ended at ``ended`` with ``kwh``; with ``seal``, build its CDR."""
        ...

    def send(self, tx: WriteTx, session: Any, cdr: dict[str, Any]) -> None:
        """Keep ``cdr`` as sent and queue its POST, in ``tx``."""
        ...

    async def credit_session(self, tx: WriteTx, session_id: int) -> bool:
        """Queue a Credit CDR for the session's newest CDR, in ``tx``; False when its
        version has no Credit CDR (2.1.1)."""
        ...


class SessionProjector:
    """The projector of OCPI Sessions (and of the CDRs they owe); see the module text."""

    name = "sessions"

    def __init__(self, ctx: OcpiContext, cdrs: CdrIssuer) -> None:
        self._ctx = ctx
        self._cdrs = cdrs

    async def prepare(self, event: DomainEvent) -> ProjectionWrite | None:
        if isinstance(event, TransactionStarted):
            # Cable first (no token): the token comes with TransactionAuthorized.
            return await self._starting(event) if event.id_token else None
        if isinstance(event, TransactionAuthorized):
            return await self._authorized(event)
        if isinstance(event, TransactionEnded | TransactionCorrected):
            return await self._ending(event)
        if isinstance(event, TransactionReopened):
            reopened = event
            return lambda tx: self._reopened(tx, reopened)
        return None

    def ordering_key(self, event: DomainEvent) -> Hashable | None:
        """The transaction: an end is priced from the Session its start wrote."""
        return getattr(event, "transaction_id", None)

    async def _reopened(self, tx: WriteTx, event: TransactionReopened) -> None:
        """A transaction we had ended on an estimate runs on: its Session is ACTIVE again
        (a PATCH), and a CDR still waiting for its grace period is no longer owed. One
        already sealed is credited and reissued when the transaction ends for real."""
        session = (
            await tx.execute(
                select(SessionRow).where(
                    SessionRow.transaction_id == event.transaction_id,
                    SessionRow.status == COMPLETED,
                )
            )
        ).first()
        if session is None:
            return  # no session, or a replay of the log: active already
        now = utc_now()
        values: dict[str, Any] = {"status": ACTIVE, "end_date_time": None, "last_updated": now}
        if session.cdr_state == "pending":
            values |= {"cdr_state": "none", "cdr_due_at": None}
        await tx.execute(update(SessionRow).where(SessionRow.id == session.id).values(**values))
        (await _session_patch(self._ctx, session, {"status": ACTIVE}, now)).queue(tx, self._ctx)

    async def _owner(self, owner: Party) -> Partner | None:
        return reaching([p for p in await self._ctx.partners.registered() if speaks(p)], owner)

    async def _authorized(self, event: TransactionAuthorized) -> ProjectionWrite | None:
        """The token of a transaction that started without one: its Session starts now,
        at the transaction's start, unless the transaction ended meanwhile (its end
        event, later in the log, then finds the session and completes it)."""
        transaction = await self._ctx.db.fetch_one(
            select(TransactionRow).where(TransactionRow.id == event.transaction_id)
        )
        if transaction is None:
            return None
        return await self._starting(
            TransactionStarted(
                event.station_id,
                event.at,
                event.transaction_id,
                transaction.evse_id,
                transaction.connector_id,
                event.id_token,
            )
        )

    async def _starting(self, event: TransactionStarted) -> ProjectionWrite | None:
        """A start with a partner's token at an EVSE of ours: the token, its owner, the
        EVSE, the tariff and the location are read here, outside the writer (the
        transaction's ordering key has the writes of its earlier events committed); the
        returned operation writes the Session and its PUT."""
        if not event.id_token:
            return None
        async with self._ctx.db.read() as conn:
            existing = await conn.execute(
                select(SessionRow.id).where(SessionRow.transaction_id == event.transaction_id)
            )
            if existing.first() is not None:
                return None  # seen already (a replay of the log, or the token told twice)
            token = await _partner_token(conn, event.id_token)
            if token is None:
                return None
            owner = Party(token.country_code.upper(), token.party_id.upper())
            partner = await self._owner(owner)
            evse = (
                await conn.execute(
                    select(EvseRow).where(
                        EvseRow.station_id == event.station_id,
                        EvseRow.ocpp_evse_id == event.evse_id,
                        EvseRow.status != REMOVED,
                    )
                )
            ).first()
            if partner is None or evse is None:
                return None
            started = (
                await conn.execute(
                    select(TransactionRow.started_at).where(
                        TransactionRow.id == event.transaction_id
                    )
                )
            ).scalar_one_or_none() or event.at
            command = await _remote_start(conn, token.uid, event.station_id, started)
            connector = _connector(evse, str(event.connector_id))
            row = await self._session_row(conn, partner.id, token, evse, connector, started)
            [location] = await load_locations(conn, [evse.location_id])
        whitelisted = token.whitelist in ("ALWAYS", "ALLOWED")

        async def write(tx: WriteTx) -> None:
            used = command is not None and await _use_command(tx, command.id, event.transaction_id)
            if used and await self._activate(tx, command, started, event, evse, connector):
                return
            method = "COMMAND" if used else ("WHITELIST" if whitelisted else "AUTH_REQUEST")
            reference = (
                command.authorization_reference
                if used
                else self._ctx.authorization_references.pop((token.uid, event.station_id), None)
            )
            session = row | {
                "id": event.transaction_id,
                "ocpi_id": str(event.transaction_id),
                "transaction_id": event.transaction_id,
                "auth_method": method,
                "authorization_reference": reference,
                "status": ACTIVE,
            }
            self._put(tx, partner, session, location)

        return write

    async def announce(self, tx: WriteTx, command_id: int, result: str) -> None:
        """An accepted START_SESSION: a PENDING Session until the charger starts, unless it
        started already (the charger's StartTransaction can overtake its answer)."""
        command = (await tx.execute(select(CommandRow).where(CommandRow.id == command_id))).one()
        if result != "ACCEPTED" or command.session_id is not None or command.token_uid is None:
            return
        token = await _partner_token(tx, command.token_uid)
        owner = (
            await self._owner(Party(token.country_code.upper(), token.party_id.upper()))
            if token is not None
            else None
        )
        evse = (
            await tx.execute(
                select(EvseRow).where(
                    EvseRow.location_id == command.location_id, EvseRow.uid == command.evse_uid
                )
            )
        ).first()
        if token is None or owner is None or evse is None:
            return
        connector = _connector(evse, command.connector_id)
        row = await self._session_row(tx, owner.id, token, evse, connector, utc_now())
        [location] = await load_locations(tx, [evse.location_id])
        row |= {
            "id": -command.id,
            "ocpi_id": f"C{command.id}",
            "transaction_id": None,
            "auth_method": "COMMAND",
            "authorization_reference": command.authorization_reference,
            "status": PENDING,
        }
        self._put(tx, owner, row, location)

    async def _activate(
        self,
        tx: WriteTx,
        command: Any,
        started: datetime,
        event: TransactionStarted,
        evse: Any,
        connector: dict[str, Any],
    ) -> bool:
        """The start a PENDING Session waited for: it becomes ACTIVE (a PATCH). False when
        the command announced none."""
        pending = (
            await tx.execute(
                select(SessionRow).where(SessionRow.id == -command.id, SessionRow.status == PENDING)
            )
        ).first()
        if pending is None:
            return False
        now = utc_now()
        values = {
            "transaction_id": event.transaction_id,
            "status": ACTIVE,
            "start_date_time": started,
            "location_id": evse.location_id,
            "evse_uid": evse.uid,
            "connector_id": str(connector.get("id")),
            "last_updated": now,
        }
        await tx.execute(update(SessionRow).where(SessionRow.id == pending.id).values(**values))
        changes = {
            "status": ACTIVE,
            "start_date_time": format_utc(started),
            "location_id": evse.location_id,
            "evse_uid": evse.uid,
            "connector_id": str(connector.get("id")),
        }
        (await _session_patch(self._ctx, pending, changes, now)).queue(tx, self._ctx)
        return True

    async def _session_row(
        self,
        db: Executor,
        partner_id: int,
        token: Any,
        evse: Any,
        connector: dict[str, Any],
        start: datetime,
    ) -> dict[str, Any]:
        """The values a new Session starts with; the caller adds ids, status and auth."""
        tariff = await self._tariff_at(db, connector.get("tariff_ids", []), start)
        return {
            "partner_id": partner_id,
            "cdr_token": {
                "country_code": token.country_code,
                "party_id": token.party_id,
                "uid": token.uid,
                "type": token.type,
                "contract_id": token.contract_id,
            },
            "location_id": evse.location_id,
            "evse_uid": evse.uid,
            "connector_id": str(connector.get("id")),
            "currency": tariff["currency"] if tariff else self._ctx.settings.currency,
            "tariff": tariff,
            "kwh": Decimal(0),
            "start_date_time": start,
            "end_date_time": None,
            "cdr_state": "none",
            "periods_sent": 0,
            "last_updated": utc_now(),
        }

    def _put(self, tx: WriteTx, partner: Partner, row: dict[str, Any], location: Location) -> None:
        tx.defer(_INSERT_SESSION, row)
        body = shapes_of(partner).session(render_session(row, self._ctx.us), location)
        _push_session(tx, self._ctx, row, "PUT", body)

    async def _tariff_at(
        self, db: Executor, tariff_ids: list[str], moment: datetime
    ) -> dict[str, Any] | None:
        """The first of the connector's tariffs valid at ``moment``, as OCPI JSON and as
        published: the CDR carries it, price text included, as the driver was shown it."""
        us = self._ctx.us
        for tariff_id in tariff_ids:
            row = (
                await db.execute(
                    select(TariffRow).where(TariffRow.id == tariff_id, TariffRow.deleted.is_(False))
                )
            ).first()
            if row is not None:
                languages = self._ctx.settings.tariff_alt_text_languages
                tariff = as_tariff(row, us.country_code, us.party_id, alt_text_languages=languages)
                if tariff.is_active_at(moment):
                    return render_tariff(tariff)
        return None

    async def _grace(self, partner_id: int) -> float:
        """How long the CDR of an estimated closure waits for the charger's real stop.
        OCPI 2.1.1 has no Credit CDR, so a CDR sealed from an estimate could never be
        corrected: its owners wait the longer ``cdr_estimate_grace_211``."""
        settings = self._ctx.settings
        owner = (await self._ctx.partners.access(partner_id)).partner
        if owner.version == "2.1.1":
            return max(settings.cdr_estimate_grace, settings.cdr_estimate_grace_211)
        return settings.cdr_estimate_grace

    async def _ending(
        self, event: TransactionEnded | TransactionCorrected
    ) -> ProjectionWrite | None:
        """The end (or corrected end) of a transaction with a Session: priced here, outside
        the writer, from the transaction as it is now; written by the returned operation."""
        ctx = self._ctx
        session = await ctx.db.fetch_one(
            select(SessionRow).where(SessionRow.transaction_id == event.transaction_id)
        )
        if session is None or session.status not in (ACTIVE, COMPLETED):
            return None
        if isinstance(event, TransactionEnded) and session.status != ACTIVE:
            return None  # a replay of the log: completed already
        transaction = await ctx.transactions.get(event.transaction_id)
        meter_end = transaction.meter_stop_wh or transaction.last_meter_wh
        kwh = _kwh(transaction.meter_start_wh, meter_end)
        ended = transaction.stopped_at or event.at
        estimate = transaction.closed_by is not None and transaction.stop_reason is None
        corrected = isinstance(event, TransactionCorrected)
        # The charger's own first stop: the CDR is owed at once, so it is built here and
        # sealed with the COMPLETED PATCH (one commit, no round of the CDR sealer). Every
        # other end leaves it to the sealer: after the grace of an estimate, or a credit
        # and a reissue.
        seal = not estimate and not corrected and session.cdr_state == "none"
        closing = await self._cdrs.closing(session, kwh, ended, seal=seal)
        final = closing.total_cost
        now = utc_now()
        due = now + timedelta(seconds=await self._grace(session.partner_id)) if estimate else now
        changes: dict[str, Any] = {
            "status": COMPLETED,
            "end_date_time": format_utc(ended),
            "kwh": kwh_number(kwh),
        }
        if final is not None:
            changes["total_cost"] = final
        patch = await _session_patch(ctx, session, changes, now)
        cdrs = self._cdrs

        async def write(tx: WriteTx) -> None:
            current = (
                await tx.execute(select(SessionRow).where(SessionRow.id == session.id))
            ).one()
            if current.status != COMPLETED and corrected:
                return
            values: dict[str, Any] = {
                "status": COMPLETED,
                "kwh": kwh,
                "end_date_time": ended,
                "last_updated": now,
            }
            patch.queue(tx, ctx)
            if current.cdr_state == "sealed":
                # The CDR went out on the estimate (corrected since, or reopened and now
                # ended for real): a Credit CDR after the new PATCH, then the new CDR
                # (sealed next) after the credit.
                if await self._cdrs.credit_session(tx, session.id):
                    values |= {"cdr_state": "pending", "cdr_due_at": now}
            elif closing.cdr is not None and current.cdr_state == "none":
                cdrs.send(tx, session, closing.cdr)
                values |= {"cdr_state": "sealed"}
            elif current.cdr_state in ("none", "pending"):
                values |= {"cdr_state": "pending", "cdr_due_at": due}
            await tx.execute(update(SessionRow).where(SessionRow.id == session.id).values(**values))

        return write


async def _partner_token(db: Executor, uid: str) -> Any:
    """The newest partner token with this uid (the one a charger's id tag means)."""
    return (
        await db.execute(
            select(PartnerTokenRow)
            .where(PartnerTokenRow.uid == uid)
            .order_by(PartnerTokenRow.last_updated.desc())
        )
    ).first()


async def _remote_start(db: Executor, uid: str, station_id: str, started: datetime) -> Any:
    """The START_SESSION a start with this token at this station answers, if any."""
    return (
        await db.execute(
            select(CommandRow)
            .where(
                CommandRow.token_uid == uid,
                CommandRow.command == "START_SESSION",
                CommandRow.station_id == station_id,
                CommandRow.session_id.is_(None),
                CommandRow.created_at >= started - REMOTE_START_WINDOW,
            )
            .order_by(CommandRow.id.desc())
        )
    ).first()


async def _use_command(tx: WriteTx, command_id: int, transaction_id: int) -> bool:
    """Mark the START_SESSION as answered by this transaction; False when another start
    took it since it was read."""
    marked = await tx.execute(
        update(CommandRow)
        .where(CommandRow.id == command_id, CommandRow.session_id.is_(None))
        .values(session_id=transaction_id)
    )
    return bool(marked.rowcount)


def _connector(evse: Any, connector_id: str | None) -> dict[str, Any]:
    """The EVSE's connector of that id, else its first."""
    connectors: list[dict[str, Any]] = evse.details.get("connectors", [])
    return next((c for c in connectors if c.get("id") == connector_id), connectors[0])


async def _partner_shapes(ctx: OcpiContext, partner_id: int) -> Shapes:
    """The shapes of the partner's version (a partner gone since is dropped by the outbox)."""
    registered = await ctx.partners.registered()
    partner = next((p for p in registered if p.id == partner_id), None)
    return shapes_of(partner) if partner is not None else SHAPES[VERSION]


@dataclass(frozen=True, slots=True)
class _Update:
    """A running session's update: the stored values (for ``_PATCHED``) and its PATCH."""

    values: dict[str, Any]
    patch: _SessionPatch


_PATCHED = (
    update(SessionRow)
    .where(SessionRow.id == bindparam("b_id"))
    .values(
        kwh=bindparam("b_kwh"), last_updated=bindparam("b_at"), periods_sent=bindparam("b_sent")
    )
)


class SessionUpdater:
    """PATCHes running sessions with their energy, closed charging periods and cost.

    Told of meter values after they commit; each round looks at the transactions metered
    since, and updates those that have an ACTIVE session due for an update. Transactions
    without a session are remembered, so that most meter values cost nothing here. Each
    round also ends the PENDING sessions whose charger never started (INVALID).
    """

    def __init__(self, ctx: OcpiContext, outbox: OutboxWorker) -> None:
        self._ctx = ctx
        self._outbox = outbox
        self._metered: set[int] = set()
        self._without_session: set[int] = set()
        self._loop = WakeableLoop(
            "ocpi-session-updates", self.update_due, ctx.settings.outbox_poll_interval
        )

    def notify(self, event: DomainEvent) -> None:
        if isinstance(event, TransactionMetered):
            if event.transaction_id not in self._without_session:
                self._metered.add(event.transaction_id)
        elif isinstance(event, TransactionEnded):
            self._metered.discard(event.transaction_id)
            self._without_session.discard(event.transaction_id)

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def update_due(self) -> bool:
        """One round over the transactions metered since the last; never asks for more."""
        await self._expire_pending()
        if not self._metered:
            return False
        metered, self._metered = self._metered, set()
        sessions = await self._ctx.db.fetch_all(
            select(SessionRow).where(
                SessionRow.transaction_id.in_(metered), SessionRow.status == ACTIVE
            )
        )
        self._without_session |= metered - {session.transaction_id for session in sessions}
        # A session whose last push the partner has not taken yet gets no new PATCH until
        # it is delivered: the next one then carries everything since, so a partner that
        # is slow or down gets fewer, fresher updates instead of a backlog that the CDRs
        # of ending sessions would queue behind.
        queued = await pending_objects(
            self._ctx.db, "sessions", (session_object_key(s.ocpi_id) for s in sessions)
        )
        interval = timedelta(seconds=self._ctx.settings.session_update_interval)
        updates: list[_Update] = []
        updated: set[int] = set()
        for session in sessions:
            waiting = session_object_key(session.ocpi_id) in queued
            if utc_now() - session.last_updated < interval or waiting:
                self._metered.add(session.transaction_id)  # not due: look again next round
                continue
            try:
                due = await self._update(session)
            except PricingError:
                log.exception("session update cannot be priced", session=session.id)
                continue
            if due is not None:
                updates.append(due)
                updated.add(session.transaction_id)
        if updates:
            ctx = self._ctx

            # One commit for the round's PATCHes, one read of which sessions still run
            # and batched writes: a commit each would take a disk flush per running
            # session and second, statements each a round trip through the event loop.
            async def op(tx: WriteTx) -> None:
                running = await tx.execute(
                    select(SessionRow.id).where(
                        SessionRow.id.in_([due.patch.session.id for due in updates]),
                        SessionRow.status == ACTIVE,
                    )
                )
                active = set(running.scalars())
                for due in updates:
                    if due.patch.session.id not in active:
                        continue  # ended meanwhile: the COMPLETED PATCH is queued already
                    tx.defer(_PATCHED, due.values)
                    due.patch.queue(tx, ctx)

            try:
                await self._ctx.db.write(op)
            except Exception:
                log.exception("session updates failed, trying again next round")
                self._metered |= updated
                return False
            self._outbox.wake()
        return False

    async def _update(self, session: Any) -> _Update | None:
        """The PATCH of a running session with what it charged so far."""
        ctx = self._ctx
        details = await ctx.transactions.details(session.transaction_id)
        location = await ctx.locations.get(session.location_id)
        samples = meter_samples(details)
        registers = [s for s in samples if s.energy_wh is not None]
        if not registers:
            return None
        last = max(registers[-1].timestamp, session.start_date_time)
        kwh = _kwh(details.meter_start_wh or registers[0].energy_wh, registers[-1].energy_wh)
        zone = location.details.get("time_zone", "UTC")
        so_far = charged(samples, session.start_date_time, last, session.tariff, zone, kwh)
        # The last period may still grow: only the ones before it are final.
        closed = so_far.rendered_periods()[:-1]
        owner = (await ctx.partners.access(session.partner_id)).partner
        shapes = shapes_of(owner)
        now = utc_now()
        changes: dict[str, Any] = {"kwh": kwh_number(kwh)}
        new_periods = closed[session.periods_sent :]
        sent = closed if not shapes.appends_periods else new_periods
        if new_periods:
            changes["charging_periods"] = sent
        if session.tariff is not None:
            changes["total_cost"] = so_far.totals["total_cost"]
        values = {"b_id": session.id, "b_kwh": kwh, "b_at": now, "b_sent": len(closed)}
        return _Update(values, await _session_patch(ctx, session, changes, now, shapes))

    async def _expire_pending(self) -> None:
        """A START_SESSION the charger accepted but never acted on: the PENDING Session it
        announced becomes INVALID once the remote start window has passed."""
        expired = await self._ctx.db.fetch_all(
            select(SessionRow).where(
                SessionRow.status == PENDING,
                SessionRow.start_date_time < utc_now() - REMOTE_START_WINDOW,
            )
        )
        for session in expired:
            now = utc_now()

            async def op(tx: WriteTx, session: Any = session, now: datetime = now) -> None:
                changed = await tx.execute(
                    update(SessionRow)
                    .where(SessionRow.id == session.id, SessionRow.status == PENDING)
                    .values(status=INVALID, last_updated=now)
                )
                if changed.rowcount:
                    patch = await _session_patch(self._ctx, session, {"status": INVALID}, now)
                    patch.queue(tx, self._ctx)

            await self._ctx.db.write(op)
        if expired:
            self._outbox.wake()


async def _render_sessions(rows: list[Any], ctx: OcpiContext) -> list[Any]:
    return [render_session(row._mapping, ctx.us) for row in rows]


async def _render_sessions_211(rows: list[Any], ctx: OcpiContext) -> list[Any]:
    async with ctx.db.read() as conn:
        found = await load_locations(conn, sorted({row.location_id for row in rows}))
    locations = {location.id: location for location in found}
    return [
        render_session_211(render_session(row._mapping, ctx.us), locations[row.location_id])
        for row in rows
    ]


router = owned_router(
    "/sessions",
    SessionRow,
    (SessionRow.id,),
    _render_sessions,
    module_caller,
    date_from_required=True,
)
router_211 = owned_router(
    "/sessions",
    SessionRow,
    (SessionRow.id,),
    _render_sessions_211,
    module_caller_211,
    date_from_required=True,
)

"""The persisted outbox: every push to a partner, written with its cause, delivered later.

:class:`OutboxRecorder` is the handler of the catalogue projector: it turns location,
EVSE status and tariff events of the durable event log into outbox rows, committed with
the projector's checkpoint, so no push is lost to a crash and none is written twice.
:class:`OutboxWorker` delivers them: the
oldest pending row of each object first (a PATCH never overtakes the PUT it amends),
objects in parallel, a transient failure retried with jittered exponential backoff until
the partner answers with OCPI status 1000. A later full PUT of an object replaces the
PUT/PATCHes queued before it (``superseded``), and a push the partner keeps rejecting
becomes a dead letter (``dead``) instead of holding its object back for ever. Rows stay
in the database, so a restart resumes them; :class:`OutboxGauges` shows the backlog.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import and_, bindparam, case, exists, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from cpo_backend.db.database import Database
from cpo_backend.db.tables_ocpi import ClientInfoRow, OutboxRow, PartnerRow, TariffRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.background import WakeableLoop
from cpo_backend.domain.events import (
    DomainEvent,
    EvseStatusChanged,
    LocationChanged,
    TariffChanged,
    TransactionEnded,
    TransactionMetered,
    TransactionStarted,
)
from cpo_backend.domain.time import as_utc, format_utc, utc_now
from cpo_backend.ocpi.context import VERSION, OcpiContext, partner_party
from cpo_backend.ocpi.shapes import Shapes, shapes_of, speaks
from cpo_backend.ocpi.transport.client import PartnerCallFailed, PartnerReply
from cpo_backend.ocpi.transport.headers import Party
from cpo_backend.roaming.locations import load_locations
from cpo_backend.roaming.partners import Partner, PartnerStatus, registered_partners
from cpo_backend.roaming.tariffs import as_tariff

log = structlog.get_logger(__name__)

PENDING = "pending"
DELIVERED = "delivered"
DROPPED = "dropped"
# Replaced, before it was sent, by a later PUT of the same object and module.
SUPERSEDED = "superseded"
# Rejected permanently ``outbox_dead_letter_attempts`` times: not tried again unless the
# operator retries it, and no longer holding back the later rows of its object.
DEAD = "dead"
# The methods whose effect a later full PUT of the object replaces.
SUPERSEDABLE = ("PUT", "PATCH")
# Refusals that say "not now" rather than "never": a timeout and rate limiting; and 401,
# which refuses our credentials, not the request: every row of the partner would be
# dead-lettered, while renewing the registration (or the partner's fix) lets them through.
_TRANSIENT_HTTP = (401, 408, 429)
_BATCH = 1000
# Deliveries at once: each mostly waits for the partner and for its commit. The OCPI
# side's HTTP pools hold as many connections in all (see ``transport.client.POOL_SIZE``).
PARALLEL = 48
# Each finished delivery wakes a round; at a hundred a second, rounds 10 ms apart start
# several deliveries each, for a tenth of the queries.
ROUND_GAP = 0.01
# The module whose rows are what the CPO is paid from: their objects are delivered first,
# and this many of the slots are theirs alone, so that a CDR never waits for a slot held
# by a progress PATCH or an EVSE status.
BILLING_MODULE = "cdrs"
BILLING_SLOTS = 16


@dataclass(frozen=True, slots=True)
class Push:
    """One request owed to one partner, its body in the partner's version."""

    module: str
    method: str
    path: str
    object_key: str
    body: dict[str, Any] | None
    # The party it is for, when not the partner itself (an eMSP behind a hub).
    to: Party | None = None


# Events whose transaction may have written outbox rows.
WAKING_EVENTS = (
    LocationChanged,
    EvseStatusChanged,
    TariffChanged,
    TransactionStarted,
    TransactionMetered,
    TransactionEnded,
)

AfterDelivery = Callable[[WriteTx, Any, PartnerReply], Awaitable[None]]


_FINISHED = (
    update(OutboxRow)
    .where(OutboxRow.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        delivered_at=bindparam("b_at"),
        last_error=bindparam("b_error"),
        last_http_status=bindparam("b_http"),
        last_status_code=bindparam("b_code"),
    )
)
# A row of :func:`outbox_row`: one statement object, so that deferred rows share an
# executemany.
INSERT_ROW = insert(OutboxRow)
# A failed attempt: tried again at ``b_due``, or never again when ``b_state`` is dead;
# only while pending, so that a row the operator dropped during the attempt stays dropped.
_FAILED = (
    update(OutboxRow)
    .where(OutboxRow.id == bindparam("b_id"), OutboxRow.state == PENDING)
    .values(
        state=bindparam("b_state"),
        attempts=bindparam("b_attempts"),
        rejections=bindparam("b_rejections"),
        next_attempt_at=bindparam("b_due"),
        last_error=bindparam("b_error"),
        last_http_status=bindparam("b_http"),
        last_status_code=bindparam("b_code"),
    )
)


def _due_heads() -> Any:
    """The round's query: the head (oldest pending row) of every object, due now
    (``b_now``), billing objects first. Built once: the statement and its cache key cost
    more to make than the query takes to run."""
    heads = (
        select(
            func.min(OutboxRow.id).label("id"),
            # Only a later PUT can supersede the head: most heads (a Session's PATCHes,
            # its CDR) have none behind them, and need no second query.
            func.max(case((OutboxRow.method == "PUT", OutboxRow.id))).label("last_put"),
            # Objects with a CDR queued go first: when the partner (or we) cannot keep
            # up, what is billed waits for nobody's progress PATCH.
            func.max(case((OutboxRow.module == BILLING_MODULE, 1), else_=0)).label("billing"),
        )
        .where(OutboxRow.state == PENDING)
        .group_by(OutboxRow.partner_id, OutboxRow.object_key)
        .subquery()
    )
    # With what the hub said of the party addressed (hubclientinfo), in the same query
    # rather than one per delivery.
    party = and_(
        ClientInfoRow.country_code == OutboxRow.to_country_code,
        ClientInfoRow.party_id == OutboxRow.to_party_id,
    )
    # The heads without their bodies: most are under way already, and decoding every
    # pending body on every round cost more than the deliveries.
    return (
        select(
            OutboxRow.id,
            OutboxRow.partner_id,
            OutboxRow.object_key,
            heads.c.last_put,
            heads.c.billing,
            ClientInfoRow.status.label("party_status"),
        )
        .join(heads, OutboxRow.id == heads.c.id)
        .outerjoin(ClientInfoRow, party)
        .where(OutboxRow.next_attempt_at <= bindparam("b_now"))
        .order_by(heads.c.billing.desc(), OutboxRow.id)
        .limit(_BATCH)
    )


_DUE_HEADS = _due_heads()


def _unreachable(to: Party | None, status: str | None) -> str | None:
    """Why a hub's party cannot take requests now, by what the hub told us of it
    (hubclientinfo ``status``): only CONNECTED parties are sent to; the row waits
    otherwise. A party the hub never told us of is sent to."""
    if to is None or status is None or status == "CONNECTED":
        return None
    return f"party {to.country_code}*{to.party_id} is {status} at the hub"


def is_absolute(path: str) -> bool:
    """Rows for a URL the partner gave us (a command's response_url) hold the whole URL."""
    return path.startswith(("http://", "https://"))


def join_url(base: str, path: str) -> str:
    """The partner's endpoint URL exactly as advertised, then ``path``: a partner whose
    URL ends in "/" may redirect (307) any other spelling, so the advertised prefix is
    kept byte for byte and only a doubled slash at the seam is avoided."""
    if base.endswith("/") and path.startswith("/"):
        return base + path[1:]
    return base + path


async def pending_objects(db: Database, module: str, object_keys: Iterable[str]) -> set[str]:
    """Those of ``object_keys`` that have a row of ``module`` not yet delivered."""
    keys = list(object_keys)
    if not keys:
        return set()
    rows = await db.fetch_all(
        select(OutboxRow.object_key)
        .where(
            OutboxRow.state == PENDING,
            OutboxRow.module == module,
            OutboxRow.object_key.in_(keys),
        )
        .distinct()
    )
    return {row.object_key for row in rows}


def outbox_row(partner_id: int, push: Push) -> dict[str, Any]:
    now = utc_now()
    return {
        "partner_id": partner_id,
        "module": push.module,
        "interface_role": "RECEIVER",
        "method": push.method,
        "path": push.path,
        "object_key": push.object_key,
        "body": push.body,
        "to_country_code": push.to.country_code if push.to else None,
        "to_party_id": push.to.party_id if push.to else None,
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def backoff(
    attempts: int, base: float, maximum: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds before the next try after ``attempts`` failures: the ceiling base, 2*base
    ... maximum, with *equal jitter* (half the ceiling, plus a random part of the other
    half; ``rand`` draws from [0, 1)).

    The jitter spreads the retries of rows that failed together (every object of a
    partner that went down) instead of sending them back in one burst at each doubling.
    Equal rather than full jitter: a row never comes back sooner than half its ceiling,
    so a partner that is down is not hit by the draws that full jitter puts near zero,
    and ``next_attempt_at`` stays a fair estimate for the operator. A partner that is back
    does not wait for the jitter: its call to us makes its rows due at once.
    """
    ceiling = float(min(maximum, base * 2 ** min(attempts - 1, 30)))
    return ceiling / 2 + ceiling / 2 * rand()


def is_permanent(reply: PartnerReply) -> bool:
    """Whether the partner refused the request itself rather than failed to take it now:
    HTTP 4xx (except 401, 408 and 429) or an OCPI 2xxx status ("client error": the request is
    wrong for the partner, and sending it again will not change that). 5xx, 401, 408 and
    429 win over the envelope (the server is in trouble, whatever it said), and 3xxx is a
    server error. An answer without an OCPI envelope is a transport failure, never this:
    it may come from a proxy or a deployment in progress rather than from the platform."""
    http = reply.http_status
    if http >= 500 or http in _TRANSIENT_HTTP:
        return False
    return 400 <= http < 500 or 2000 <= reply.status_code < 3000


def answer_of(reply: PartnerReply) -> str:
    """The partner's answer as the operator reads it in ``last_error``."""
    return f"HTTP {reply.http_status}, OCPI {reply.status_code}: {reply.status_message}"


@dataclass(frozen=True, slots=True)
class Change:
    """A push owed to every partner offering ``module`` as a Receiver; ``render`` gives
    the body in a partner's version (None: that version cannot express it, so that
    partner is not sent it), or is None itself for a request without a body."""

    module: str
    method: str
    path: str
    object_key: str
    render: Callable[[Shapes], dict[str, Any] | None] | None


class OutboxRecorder:
    """Turns domain events into outbox rows, inside the transaction that emitted them."""

    def __init__(self, ctx: OcpiContext) -> None:
        self._ctx = ctx

    async def on_event(self, tx: WriteTx, event: DomainEvent) -> None:
        for change in await self._changes(tx, event):
            # Recorded once per commit for every change of its events: one read of the
            # partners and one batched insert for a page of EVSE status changes.
            tx.gather(self._record, change)

    async def _record(self, tx: WriteTx, changes: list[Change]) -> None:
        partners = await registered_partners(tx)
        for change in changes:
            bodies: dict[str | None, dict[str, Any] | None] = {}
            for partner in _receivers(partners, change.module):
                if change.render is not None and partner.version not in bodies:
                    bodies[partner.version] = change.render(shapes_of(partner))
                body = bodies.get(partner.version)
                if change.render is not None and body is None:
                    continue
                push = Push(change.module, change.method, change.path, change.object_key, body)
                tx.defer(INSERT_ROW, outbox_row(partner.id, push))

    async def _changes(self, tx: WriteTx, event: DomainEvent) -> list[Change]:
        us = self._ctx.us
        prefix = f"/{us.country_code}/{us.party_id}"
        if isinstance(event, LocationChanged):
            found = await load_locations(tx, [event.location_id])
            if not found:
                return []
            key = f"location:{event.location_id}"
            path = f"{prefix}/{event.location_id}"
            return [Change("locations", "PUT", path, key, lambda s: s.location(found[0], us))]
        if isinstance(event, EvseStatusChanged):
            body = {"status": event.status, "last_updated": format_utc(event.at)}
            path = f"{prefix}/{event.location_id}/{event.evse_uid}"
            key = f"location:{event.location_id}"
            return [Change("locations", "PATCH", path, key, lambda _s: body)]
        if isinstance(event, TariffChanged):
            path, key = f"{prefix}/{event.tariff_id}", f"tariff:{event.tariff_id}"
            if event.deleted:
                return [Change("tariffs", "DELETE", path, key, None)]
            row = (
                await tx.execute(select(TariffRow).where(TariffRow.id == event.tariff_id))
            ).first()
            languages = self._ctx.settings.tariff_alt_text_languages
            tariff = as_tariff(row, us.country_code, us.party_id, alt_text_languages=languages)
            return [Change("tariffs", "PUT", path, key, lambda s: s.tariff(tariff))]
        return []


def _receivers(partners: Iterable[Partner], module: str) -> list[Partner]:
    """Partners taking pushes for ``module``, in a version we speak."""
    return [p for p in partners if speaks(p) and p.endpoint(module, "RECEIVER") is not None]


@dataclass(frozen=True, slots=True)
class PartnerBacklog:
    """What one partner is owed, as of the last snapshot."""

    pending: int = 0
    oldest_pending: datetime | None = None
    dead: int = 0


class OutboxGauges:
    """Prometheus gauges of the outbox per partner: backlog, age of the oldest pending row
    and dead letters.

    ``/metrics`` is rendered synchronously, so a scrape cannot query the database: the
    worker refreshes a snapshot (:meth:`refresh`) at most every poll interval and
    :meth:`collect` reads it. The oldest row's age is computed at the scrape, so it grows
    between two snapshots as it does in truth. Every registered partner has its series,
    at 0 when it is owed nothing (a series that vanishes reads as "no data" in alerts).
    """

    def __init__(self) -> None:
        self._partners: dict[int, PartnerBacklog] = {}

    async def refresh(self, db: Database) -> None:
        registered = await db.fetch_all(
            select(PartnerRow.id).where(PartnerRow.status == PartnerStatus.REGISTERED.value)
        )
        counts = await db.fetch_all(
            select(
                OutboxRow.partner_id,
                OutboxRow.state,
                func.count().label("rows"),
                func.min(OutboxRow.created_at).label("oldest"),
            )
            .where(OutboxRow.state.in_((PENDING, DEAD)))
            .group_by(OutboxRow.partner_id, OutboxRow.state)
        )
        partners = {row.id: PartnerBacklog() for row in registered}
        for row in counts:
            known = partners.get(row.partner_id, PartnerBacklog())
            if row.state == PENDING:
                oldest = as_utc(row.oldest) if row.oldest is not None else None
                known = PartnerBacklog(row.rows, oldest, known.dead)
            else:
                known = PartnerBacklog(known.pending, known.oldest_pending, row.rows)
            partners[row.partner_id] = known
        self._partners = partners

    def collect(self) -> Iterator[Metric]:
        labels = ["partner"]
        backlog = GaugeMetricFamily(
            "cpo_ocpi_outbox_backlog",
            "Pushes owed to the partner (pending outbox rows)",
            labels=labels,
        )
        oldest = GaugeMetricFamily(
            "cpo_ocpi_outbox_oldest_pending_seconds",
            "Age of the oldest push owed to the partner (0: none)",
            labels=labels,
        )
        dead = GaugeMetricFamily(
            "cpo_ocpi_outbox_dead_letters",
            "Pushes the partner rejected permanently, waiting for the operator",
            labels=labels,
        )
        now = utc_now()
        for partner_id, known in sorted(self._partners.items()):
            label = [str(partner_id)]
            backlog.add_metric(label, known.pending)
            age = (now - known.oldest_pending).total_seconds() if known.oldest_pending else 0.0
            oldest.add_metric(label, max(0.0, age))
            dead.add_metric(label, known.dead)
        yield from (backlog, oldest, dead)


class OutboxWorker:
    """Delivers pending rows; woken by commits that may have written some, else polls."""

    def __init__(
        self,
        db: Database,
        ctx: OcpiContext,
        after_delivery: Mapping[str, AfterDelivery] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._db = db
        self._ctx = ctx
        # The jitter's random source (a test makes backoffs predictable with its own).
        self._rand = rand
        self._loop = WakeableLoop(
            "ocpi-outbox", self.deliver_due, ctx.settings.outbox_poll_interval, ROUND_GAP
        )
        # Per module, what else to store when the partner acknowledged a row (in the
        # same transaction that marks it delivered): the CDR's Location header, say.
        self._after_delivery = dict(after_delivery or {})
        # Deliveries under way, by (partner, object): one at a time per object.
        self._in_flight: dict[tuple[int, str], asyncio.Task[None]] = {}
        # Those of them whose object has no CDR queued.
        self._ordinary: set[tuple[int, str]] = set()
        # Rows finished while a round's query ran: its result may still show them pending.
        self._finished: set[int] = set()
        # Partners whose last delivery failed: their rows wait for a backoff.
        self._failing: set[int] = set()
        # Per-partner gauges, refreshed by the rounds at most every poll interval.
        self.gauges = OutboxGauges()
        self._gauges_due = 0.0

    def notify(self, event: DomainEvent) -> None:
        """Post-commit listener: a change that may have queued pushes wakes the worker."""
        if isinstance(event, WAKING_EVENTS):
            self._loop.wake()

    def wake(self) -> None:
        """Look at the outbox now: rows were written outside an event (a sealed CDR)."""
        self._loop.wake()

    async def partner_heard(self, partner_id: int) -> None:
        """The partner just called us: if we were failing to reach it, its waiting rows
        are due now rather than after a backoff of up to ``outbox_max_backoff``."""
        if partner_id not in self._failing:
            return
        self._failing.discard(partner_id)
        now = utc_now()

        async def op(tx: WriteTx) -> None:
            await tx.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.partner_id == partner_id,
                    OutboxRow.state == PENDING,
                    OutboxRow.next_attempt_at > now,
                )
                .values(next_attempt_at=now)
            )

        await self._db.write(op)
        self._loop.wake()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        under_way = list(self._in_flight.values())
        for task in under_way:
            task.cancel()
        await asyncio.gather(*under_way, return_exceptions=True)

    async def deliver_due(self) -> bool:
        """Start the head row of every object that is due and not under way, up to
        ``PARALLEL`` deliveries at once. A delivery that finishes its row wakes the loop,
        so the next row starts as soon as a slot is free rather than when a whole round
        has ended (one slow partner would hold everyone's pushes back for its timeout).

        Heads are found in SQL, so a partner with a large backlog that is not due
        cannot hide the rows of other partners. Objects with a CDR queued come first,
        then the oldest heads. Only pending rows are heads: a dead
        letter no longer holds its object back.
        """
        free = PARALLEL - len(self._in_flight)
        if free > 0:
            self._finished.clear()
            due = await self._db.fetch_all(_DUE_HEADS, {"b_now": utc_now()})
            starting = self._starting(due, free)
            if starting:
                rows = await self._db.fetch_all(
                    select(OutboxRow).where(OutboxRow.id.in_([head.id for head in starting]))
                )
                by_id = {row.id: row for row in rows}
                for head in starting:
                    if head.id in by_id:  # (else dropped by the operator meanwhile)
                        key = (head.partner_id, head.object_key)
                        if not head.billing:
                            self._ordinary.add(key)
                        task = self._deliver_one(key, head, by_id[head.id])
                        self._in_flight[key] = asyncio.create_task(task)
        await self._refresh_gauges()
        return False

    def _starting(self, due: Sequence[Any], free: int) -> list[Any]:
        """The heads to start now, of the round's ``due`` (billing objects first): up to
        ``free``, of which the objects without a CDR take no slot ``BILLING_SLOTS`` keeps."""
        ordinary = PARALLEL - BILLING_SLOTS - len(self._ordinary)
        starting: list[Any] = []
        for head in due:
            if len(starting) == free:
                break
            if (head.partner_id, head.object_key) in self._in_flight or head.id in self._finished:
                continue
            if not head.billing:
                if ordinary <= 0:
                    continue
                ordinary -= 1
            starting.append(head)
        return starting

    async def _refresh_gauges(self) -> None:
        """The gauges' snapshot, at most once per poll interval (rounds can be many)."""
        clock = asyncio.get_running_loop().time()
        if clock < self._gauges_due:
            return
        self._gauges_due = clock + self._ctx.settings.outbox_poll_interval
        await self.gauges.refresh(self._db)

    async def _deliver_one(self, key: tuple[int, str], head: Any, row: Any) -> None:
        """Deliver the object's head ``row``; ``head``: what the round saw of its queue."""
        finished = False
        try:
            row = await self._supersede(head, row)
            finished = await self._deliver(row, head.party_status)
        except Exception:  # a bad row must not stop the others; it is tried again
            log.exception("outbox delivery failed", row=head.id)
        finally:
            # Whatever happened, the row is no longer pending as the round that picked it
            # saw it (delivered, dropped, superseded or due later): no round may start it
            # again on that stale view.
            self._finished.add(head.id)
            del self._in_flight[key]
            self._ordinary.discard(key)
        # A failure waits for its backoff (the poll finds it): waking on failures would
        # spin while a partner is down.
        if finished:
            self._loop.wake()

    async def _supersede(self, head: Any, row: Any) -> Any:
        """The row to send for the object whose head row is ``row``: that row, or the
        latest PUT of the same module that follows it in the object's queue with only
        PUT/PATCHes of that module in between (``head.last_put``: the newest PUT pending in
        its object's queue when the round picked it). The rows before that PUT are then marked
        superseded: a full PUT replaces the object at the partner, so what they would have
        changed is in it already (it was rendered later).

        Done here, when the object's head is picked, rather than when the PUT is written:
        the object is then held by this delivery (``_in_flight``), so none of the rows
        marked is being sent, and rows written by any module (the sessions projector's
        too) are covered. A row of another kind in between (a CDR POST in a session's
        queue, a tariff DELETE) is a barrier: nothing behind it is superseded, so a CDR
        still never overtakes the Session PATCH before it.
        """
        if row.method not in SUPERSEDABLE or head.last_put is None or head.last_put <= row.id:
            return row  # (no PUT behind it when the round looked: nothing supersedes it)
        queued = (
            OutboxRow.partner_id == row.partner_id,
            OutboxRow.object_key == row.object_key,
            OutboxRow.state == PENDING,
            OutboxRow.id > row.id,
        )
        between = aliased(OutboxRow)
        barrier = exists().where(
            between.partner_id == row.partner_id,
            between.object_key == row.object_key,
            between.state == PENDING,
            between.id > row.id,
            between.id < OutboxRow.id,
            or_(between.module != row.module, between.method.not_in(SUPERSEDABLE)),
        )
        latest = await self._db.fetch_one(
            select(OutboxRow)
            .where(*queued, OutboxRow.module == row.module, OutboxRow.method == "PUT", ~barrier)
            .order_by(OutboxRow.id.desc())
            .limit(1)
        )
        if latest is None:
            return row

        async def op(tx: WriteTx) -> None:
            await tx.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.partner_id == row.partner_id,
                    OutboxRow.object_key == row.object_key,
                    OutboxRow.module == row.module,
                    OutboxRow.state == PENDING,
                    OutboxRow.method.in_(SUPERSEDABLE),
                    OutboxRow.id >= row.id,
                    OutboxRow.id < latest.id,
                )
                .values(state=SUPERSEDED, last_error=f"superseded by outbox row {latest.id}")
            )

        await self._db.write(op)
        log.info("outbox rows superseded", first=row.id, by=latest.id, object=row.object_key)
        return latest

    async def _deliver(self, row: Any, party_status: str | None) -> bool:
        """One attempt; True when the row is done with (the object's next row may go).
        ``party_status``: what the hub last said of the party the row is addressed to."""
        access = await self._ctx.partners.access(row.partner_id)
        partner = access.partner
        base = "" if is_absolute(row.path) else partner.endpoint(row.module, row.interface_role)
        if partner.status != PartnerStatus.REGISTERED or not access.outgoing_token or base is None:
            await self._finish(row.id, DROPPED, "partner no longer registered for this module")
            return True
        to = Party(row.to_country_code, row.to_party_id) if row.to_party_id else None
        unreachable = _unreachable(to, party_status)
        if unreachable is not None:
            await self._failed(row, unreachable)
            return False
        try:
            reply = await self._ctx.client.request(
                row.method,
                join_url(base, row.path) if base else row.path,
                access.outgoing_token,
                json=row.body,
                to=to or partner_party(partner),
                routed=True,
                version=partner.version or VERSION,
            )
        except PartnerCallFailed as error:
            await self._failed(row, str(error))
            return False
        if reply.ok:
            self._failing.discard(row.partner_id)
            await self._finish(row.id, DELIVERED, None, row, reply)
            return True
        return await self._failed(row, answer_of(reply), reply)

    async def _finish(
        self,
        row_id: int,
        state: str,
        error: str | None,
        row: Any = None,
        reply: PartnerReply | None = None,
    ) -> None:
        now = utc_now()
        hook = self._after_delivery.get(row.module) if row is not None else None
        params = {
            "b_id": row_id,
            "b_state": state,
            "b_at": now,
            "b_error": error,
            "b_http": reply.http_status if reply else None,
            "b_code": reply.status_code if reply else None,
        }

        async def op(tx: WriteTx) -> None:
            # Deferred: the finished rows of one commit batch are one executemany.
            tx.defer(_FINISHED, params)
            if hook is not None and reply is not None:
                await hook(tx, row, reply)

        await self._db.write(op)

    async def _failed(self, row: Any, error: str, reply: PartnerReply | None = None) -> bool:
        """Record a failed attempt. A permanent rejection counts towards the dead-letter
        limit, and the row that reaches it is dead (True: its object's next row may go);
        any other failure is retried after a backoff, without limit."""
        settings = self._ctx.settings
        attempts = row.attempts + 1
        rejections: int = row.rejections
        rejected = reply is not None and is_permanent(reply)
        if rejected:
            # The partner answered: it is reachable, only this request is refused.
            rejections += 1
        else:
            self._failing.add(row.partner_id)
        dead = rejected and rejections >= settings.outbox_dead_letter_attempts
        delay = backoff(
            attempts, settings.outbox_base_backoff, settings.outbox_max_backoff, self._rand
        )
        if dead:
            log.warning("outbox push is a dead letter", row=row.id, attempts=attempts, error=error)
        else:
            log.warning(
                "outbox push failed", row=row.id, attempts=attempts, retry_in=delay, error=error
            )
        params = {
            "b_id": row.id,
            "b_state": DEAD if dead else PENDING,
            "b_attempts": attempts,
            "b_rejections": rejections,
            "b_due": utc_now() + timedelta(seconds=delay),
            "b_error": error,
            "b_http": reply.http_status if reply else None,
            "b_code": reply.status_code if reply else None,
        }

        async def op(tx: WriteTx) -> None:
            tx.defer(_FAILED, params)

        await self._db.write(op)
        return dead

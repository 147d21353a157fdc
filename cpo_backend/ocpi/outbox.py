"""The persisted outbox: every push to a partner, written with its cause, delivered later.

:class:`OutboxRecorder` is the handler of the catalogue projector: it turns location,
EVSE status and tariff events of the durable event log into outbox rows, committed with
the projector's checkpoint, so no push is lost to a crash and none is written twice.
:class:`OutboxWorker` delivers them: the
oldest pending row of each object first (a PATCH never overtakes the PUT it amends),
objects in parallel, a failure retried with exponential backoff until the partner
answers with OCPI status 1000. Rows stay in the database, so a restart resumes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import bindparam, func, insert, select, update

from cpo_backend.db.database import Database
from cpo_backend.db.tables_ocpi import ClientInfoRow, OutboxRow, TariffRow
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
from cpo_backend.domain.locations import load_locations
from cpo_backend.domain.partners import Partner, PartnerStatus, registered_partners
from cpo_backend.domain.tariffs import as_tariff
from cpo_backend.domain.time import format_utc, utc_now
from cpo_backend.ocpi.context import VERSION, OcpiContext, partner_party
from cpo_backend.ocpi.shapes import Shapes, shapes_of, speaks
from cpo_backend.ocpi.transport.client import PartnerCallFailed, PartnerReply
from cpo_backend.ocpi.transport.headers import Party

log = structlog.get_logger(__name__)

PENDING = "pending"
DELIVERED = "delivered"
DROPPED = "dropped"
_BATCH = 1000
# Deliveries at once: each mostly waits for the partner and for its commit.
_PARALLEL = 64


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
    )
)
_RETRIED = (
    update(OutboxRow)
    .where(OutboxRow.id == bindparam("b_id"))
    .values(
        attempts=bindparam("b_attempts"),
        next_attempt_at=bindparam("b_due"),
        last_error=bindparam("b_error"),
    )
)


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


def backoff(attempts: int, base: float, maximum: float) -> float:
    """Seconds before the next try after ``attempts`` failures: base, 2*base ... maximum."""
    return float(min(maximum, base * 2 ** min(attempts - 1, 30)))


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
        changes = await self._changes(tx, event)
        if not changes:
            return
        partners = await registered_partners(tx)
        rows = []
        for change in changes:
            bodies: dict[str | None, dict[str, Any] | None] = {}
            for partner in _receivers(partners, change.module):
                if change.render is not None and partner.version not in bodies:
                    bodies[partner.version] = change.render(shapes_of(partner))
                body = bodies.get(partner.version)
                if change.render is not None and body is None:
                    continue
                push = Push(change.module, change.method, change.path, change.object_key, body)
                rows.append(outbox_row(partner.id, push))
        if rows:
            await tx.execute(insert(OutboxRow), rows)

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
            tariff = as_tariff(row, us.country_code, us.party_id)
            return [Change("tariffs", "PUT", path, key, lambda s: s.tariff(tariff))]
        return []


def _receivers(partners: Iterable[Partner], module: str) -> list[Partner]:
    """Partners taking pushes for ``module``, in a version we speak."""
    return [p for p in partners if speaks(p) and p.endpoint(module, "RECEIVER") is not None]


class OutboxWorker:
    """Delivers pending rows; woken by commits that may have written some, else polls."""

    def __init__(self, db: Database, ctx: OcpiContext) -> None:
        self._db = db
        self._ctx = ctx
        self._loop = WakeableLoop(
            "ocpi-outbox", self.deliver_due, ctx.settings.outbox_poll_interval
        )
        # Per module, what else to store when the partner acknowledged a row (in the
        # same transaction that marks it delivered): the CDR's Location header, say.
        self.after_delivery: dict[str, AfterDelivery] = {}
        # Deliveries under way, by (partner, object): one at a time per object.
        self._in_flight: dict[tuple[int, str], asyncio.Task[None]] = {}
        # Rows finished while a round's query ran: its result may still show them pending.
        self._finished: set[int] = set()
        # Partners whose last delivery failed: their rows wait for a backoff.
        self._failing: set[int] = set()

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
        ``_PARALLEL`` deliveries at once. A delivery that finishes its row wakes the loop,
        so the next row starts as soon as a slot is free rather than when a whole round
        has ended (one slow partner would hold everyone's pushes back for its timeout).

        Heads are found in SQL, so a partner with a large backlog that is not due
        cannot hide the rows of other partners.
        """
        free = _PARALLEL - len(self._in_flight)
        if free <= 0:
            return False
        self._finished.clear()
        heads = (
            select(func.min(OutboxRow.id).label("id"))
            .where(OutboxRow.state == PENDING)
            .group_by(OutboxRow.partner_id, OutboxRow.object_key)
            .subquery()
        )
        due = await self._db.fetch_all(
            select(OutboxRow)
            .join(heads, OutboxRow.id == heads.c.id)
            .where(OutboxRow.next_attempt_at <= utc_now())
            .order_by(OutboxRow.id)
            .limit(_BATCH)
        )
        for row in due:
            key = (row.partner_id, row.object_key)
            if key in self._in_flight or row.id in self._finished:
                continue
            if free == 0:
                break
            free -= 1
            self._in_flight[key] = asyncio.create_task(self._deliver_one(key, row))
        return False

    async def _deliver_one(self, key: tuple[int, str], row: Any) -> None:
        finished = False
        try:
            finished = await self._deliver(row)
        except Exception:  # a bad row must not stop the others; it is tried again
            log.exception("outbox delivery failed", row=row.id)
        finally:
            # Whatever happened, the row is no longer pending as the round that picked it
            # saw it (delivered, dropped or due later): no round may start it again on
            # that stale view.
            self._finished.add(row.id)
            del self._in_flight[key]
        # A failure waits for its backoff (the poll finds it): waking on failures would
        # spin while a partner is down.
        if finished:
            self._loop.wake()

    async def _deliver(self, row: Any) -> bool:
        access = await self._ctx.partners.access(row.partner_id)
        partner = access.partner
        base = "" if is_absolute(row.path) else partner.endpoint(row.module, row.interface_role)
        if partner.status != PartnerStatus.REGISTERED or not access.outgoing_token or base is None:
            await self._finish(row.id, DROPPED, "partner no longer registered for this module")
            return True
        to = Party(row.to_country_code, row.to_party_id) if row.to_party_id else None
        unreachable = await self._unreachable(to)
        if unreachable is not None:
            await self._retry(row, unreachable)
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
            await self._retry(row, str(error))
            return False
        if reply.ok:
            self._failing.discard(row.partner_id)
            await self._finish(row.id, DELIVERED, None, row, reply)
            return True
        await self._retry(
            row, f"HTTP {reply.http_status}, OCPI {reply.status_code}: {reply.status_message}"
        )
        return False

    async def _unreachable(self, to: Party | None) -> str | None:
        """Why a hub's party cannot take requests now, by what the hub told us of it
        (hubclientinfo): only CONNECTED parties are sent to; the row waits otherwise."""
        if to is None:
            return None
        status = await self._db.fetch_one(
            select(ClientInfoRow.status).where(
                ClientInfoRow.country_code == to.country_code,
                ClientInfoRow.party_id == to.party_id,
            )
        )
        if status is None or status.status == "CONNECTED":
            return None
        return f"party {to.country_code}*{to.party_id} is {status.status} at the hub"

    async def _finish(
        self,
        row_id: int,
        state: str,
        error: str | None,
        row: Any = None,
        reply: PartnerReply | None = None,
    ) -> None:
        now = utc_now()
        hook = self.after_delivery.get(row.module) if row is not None else None

        async def op(tx: WriteTx) -> None:
            # Deferred: the finished rows of one commit batch are one executemany.
            tx.defer(_FINISHED, {"b_id": row_id, "b_state": state, "b_at": now, "b_error": error})
            if hook is not None and reply is not None:
                await hook(tx, row, reply)

        await self._db.write(op)

    async def _retry(self, row: Any, error: str) -> None:
        self._failing.add(row.partner_id)
        settings = self._ctx.settings
        attempts = row.attempts + 1
        delay = backoff(attempts, settings.outbox_base_backoff, settings.outbox_max_backoff)
        log.warning(
            "outbox push failed", row=row.id, attempts=attempts, retry_in=delay, error=error
        )

        async def op(tx: WriteTx) -> None:
            due = utc_now() + timedelta(seconds=delay)
            params = {"b_id": row.id, "b_attempts": attempts, "b_due": due, "b_error": error}
            tx.defer(_RETRIED, params)

        await self._db.write(op)

"""Roaming partners: the platforms we exchanged OCPI credentials with.

The domain keeps who they are (roles), how to reach them (version, endpoints, the token
we send) and how they reach us (the token they send, or a token A before they
registered). Talking OCPI to them is the adapter's job; the :class:`Registrar` port lets
the operator API start a registration without knowing OCPI.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import func, insert, or_, select, update

from cpo_backend.db.database import Database
from cpo_backend.db.tables_ocpi import OutboxRow, PartnerRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.errors import Conflict, NotFound, UpstreamFailed
from cpo_backend.domain.model import Record
from cpo_backend.domain.paging import Executor
from cpo_backend.domain.time import UtcTimestamp, utc_now


class PartnerStatus(StrEnum):
    PENDING = "pending"
    REGISTERED = "registered"
    UNREGISTERED = "unregistered"


class PartnerNotFound(NotFound):
    noun = "partner"


class Partner(Record):
    """A partner as the operator sees it (no secrets)."""

    id: int
    status: PartnerStatus
    version: str | None
    versions_url: str | None
    roles: list[dict[str, Any]]
    endpoints: list[dict[str, Any]]
    created_at: UtcTimestamp
    updated_at: UtcTimestamp

    def endpoint(self, identifier: str, role: str) -> str | None:
        """The partner's URL for one module interface, if it offers it. An endpoint
        without a role (OCPI 2.1.1) serves both interfaces of its module."""
        for endpoint in self.endpoints:
            if endpoint.get("identifier") == identifier and endpoint.get("role", role) == role:
                return str(endpoint["url"])
        return None


class PartnerAccess(Record):
    """A partner with its credentials: for the OCPI adapter only."""

    partner: Partner
    token_a: str | None
    incoming_token: str | None
    outgoing_token: str | None


class OutboxEntryNotFound(NotFound):
    noun = "outbox entry"


class OutboxEntryConflict(Conflict):
    """The row is not in a state the operator's action applies to; the message says why."""

    code = "outbox_entry_conflict"


# The outbox states the operator may act on, and the methods that change an object at
# the partner (a POST creates an object of its own: a CDR, a CommandResult).
_PENDING, _DEAD = "pending", "dead"
_CHANGING = ("PUT", "PATCH", "DELETE")


def _wrong_state(entry_id: int, state: str, action: str) -> str:
    return f"outbox entry {entry_id} is {state}: only pending or dead entries can be {action}"


class OutboxEntry(Record):
    """One push owed to (or delivered to, or dropped for) a partner: the operator's view
    of the outbox, to see what a partner is missing and why."""

    id: int
    partner_id: int
    module: str
    method: str
    path: str
    object_key: str
    to_country_code: str | None
    to_party_id: str | None
    state: str
    attempts: int
    # Attempts the partner rejected permanently (a dead letter has reached the limit).
    rejections: int
    next_attempt_at: UtcTimestamp
    last_error: str | None
    # The partner's answer to the last attempt: HTTP status and OCPI status_code (its
    # status_message is in last_error); None when there was no answer.
    last_http_status: int | None
    last_status_code: int | None
    created_at: UtcTimestamp
    delivered_at: UtcTimestamp | None
    body: dict[str, Any] | None = None


class RegistrationFailed(UpstreamFailed):
    """Registering with a partner failed; ``ocpi_status`` is the OCPI status code that says
    why."""

    code = "registration_failed"

    def __init__(self, ocpi_status: int, message: str) -> None:
        super().__init__(message, ocpi_status=ocpi_status)
        self.ocpi_status = ocpi_status


class NewTokenA(Record):
    partner_id: int
    token_a: str


class Registrar(Protocol):
    """Talks to a partner platform about our registration with it."""

    async def register(self, versions_url: str, token_a: str) -> Partner:
        """Register with the platform at ``versions_url``, using the token A it issued."""
        ...

    async def renew(self, partner_id: int) -> Partner:
        """New tokens both ways and fresh endpoints (credentials PUT)."""
        ...

    async def unregister(self, partner_id: int) -> Partner:
        """End the registration on both sides (credentials DELETE)."""
        ...


def new_credentials_token() -> str:
    """A fresh OCPI credentials token: 256 random bits as 43 printable characters."""
    return secrets.token_urlsafe(32)


def _partner(row: Any) -> Partner:
    return Partner.model_validate(row)


def _access(row: Any) -> PartnerAccess:
    return PartnerAccess(
        partner=_partner(row),
        token_a=row.token_a,
        incoming_token=row.incoming_token,
        outgoing_token=row.outgoing_token,
    )


# How old the snapshot of every partner may be: a change made through another node is
# seen this late (a change made here is seen at once).
SNAPSHOT_SECONDS = 1.0


class PartnerService:
    """The partners we roam with.

    Pushing, sealing and session updates ask for a partner's access and version on every
    object, hundreds of times a second under load; they read a snapshot of every partner
    (a handful of rows), taken at most every :data:`SNAPSHOT_SECONDS` and dropped by every
    write through this service, instead of a query each.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._snapshot: dict[int, PartnerAccess] | None = None
        self._snapshot_taken = 0.0
        # Counts writes, so that a snapshot read while a write committed is not kept.
        self._writes = 0

    async def _partners(self) -> dict[int, PartnerAccess]:
        now = time.monotonic()
        if self._snapshot is None or now - self._snapshot_taken > SNAPSHOT_SECONDS:
            writes = self._writes
            rows = await self._db.fetch_all(select(PartnerRow))
            snapshot = {row.id: _access(row) for row in rows}
            if writes != self._writes:
                return snapshot  # a write committed meanwhile: use it once, keep nothing
            self._snapshot, self._snapshot_taken = snapshot, now
        return self._snapshot

    def _changed(self) -> None:
        self._writes += 1
        self._snapshot = None

    async def registered(self) -> list[Partner]:
        """The partners a change must be pushed to, as of the snapshot."""
        return [
            access.partner
            for access in (await self._partners()).values()
            if access.partner.status == PartnerStatus.REGISTERED
        ]

    async def create_token_a(self, token_a: str) -> NewTokenA:
        """A pending partner that may register with us using ``token_a``."""
        return NewTokenA(partner_id=await self.create_pending(token_a=token_a), token_a=token_a)

    async def create_pending(
        self,
        *,
        token_a: str | None = None,
        incoming_token: str | None = None,
        outgoing_token: str | None = None,
        versions_url: str | None = None,
    ) -> int:
        now = utc_now()

        async def op(tx: WriteTx) -> int:
            result = await tx.execute(
                insert(PartnerRow)
                .values(
                    status=PartnerStatus.PENDING.value,
                    token_a=token_a,
                    incoming_token=incoming_token,
                    outgoing_token=outgoing_token,
                    versions_url=versions_url,
                    roles=[],
                    endpoints=[],
                    created_at=now,
                    updated_at=now,
                )
                .returning(PartnerRow.id)
            )
            return int(result.scalar_one())

        try:
            return await self._db.write(op)
        finally:
            self._changed()

    async def by_token(self, token: str) -> PartnerAccess | None:
        """The partner presenting ``token``, as token A or as its credentials token."""
        row = await self._db.fetch_one(
            select(PartnerRow).where(
                or_(PartnerRow.token_a == token, PartnerRow.incoming_token == token)
            )
        )
        return None if row is None else _access(row)

    async def access(self, partner_id: int) -> PartnerAccess:
        found = (await self._partners()).get(partner_id)
        if found is not None:
            return found
        # Created since the snapshot (through another node): read it.
        row = await self._db.fetch_one(select(PartnerRow).where(PartnerRow.id == partner_id))
        if row is None:
            raise PartnerNotFound(partner_id)
        return _access(row)

    async def get(self, partner_id: int) -> Partner:
        return (await self.access(partner_id)).partner

    async def find(self) -> list[Partner]:
        rows = await self._db.fetch_all(select(PartnerRow).order_by(PartnerRow.id))
        return [_partner(row) for row in rows]

    async def outbox(
        self,
        *,
        partner_id: int | None = None,
        state: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[OutboxEntry]:
        """Outbox rows, oldest first, without their bodies."""
        query = select(*(c for c in OutboxRow.__table__.c if c.name != "body"))
        if partner_id is not None:
            query = query.where(OutboxRow.partner_id == partner_id)
        if state is not None:
            query = query.where(OutboxRow.state == state)
        rows = await self._db.fetch_all(query.order_by(OutboxRow.id).offset(offset).limit(limit))
        return [OutboxEntry.model_validate(row) for row in rows]

    async def outbox_entry(self, entry_id: int) -> OutboxEntry:
        row = await self._db.fetch_one(select(OutboxRow).where(OutboxRow.id == entry_id))
        if row is None:
            raise OutboxEntryNotFound(entry_id)
        return OutboxEntry.model_validate(row)

    async def retry_now(self, entry_id: int) -> OutboxEntry:
        """Make a pending row due at once (the partner is fixed: skip the backoff), or a
        dead letter pending again, due at once, with a fresh allowance of rejections.

        The dead letter keeps its place in its object's queue (its id), so it goes before
        the object's later pending rows. If a later PUT, PATCH or DELETE of the same object
        (partner, object key, module) was delivered meanwhile, sending the old one now
        would overwrite newer state at the partner: that is refused (conflict); the
        operator drops it instead, and the next change of the object carries the current
        state. A POST (a CDR, a CommandResult) creates an object of its own and can always
        be retried.
        """
        await self.outbox_entry(entry_id)  # rows are never deleted: it exists below too

        async def op(tx: WriteTx) -> str | None:
            row = (await tx.execute(select(OutboxRow).where(OutboxRow.id == entry_id))).one()
            if row.state == _PENDING:
                await tx.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == entry_id)
                    .values(next_attempt_at=utc_now())
                )
                return None
            if row.state != _DEAD:
                return _wrong_state(entry_id, row.state, "retried")
            newer = None
            if row.method in _CHANGING:
                newer = (
                    await tx.execute(
                        select(func.min(OutboxRow.id)).where(
                            OutboxRow.partner_id == row.partner_id,
                            OutboxRow.object_key == row.object_key,
                            OutboxRow.module == row.module,
                            OutboxRow.method.in_(_CHANGING),
                            OutboxRow.state == "delivered",
                            OutboxRow.id > entry_id,
                        )
                    )
                ).scalar()
            if newer is not None:
                return (
                    f"outbox entry {newer}, a later {row.module} push of {row.object_key}, was"
                    f" delivered since: sending entry {entry_id} now would overwrite it at the"
                    " partner; drop it, the object's next change carries its current state"
                )
            await tx.execute(
                update(OutboxRow)
                .where(OutboxRow.id == entry_id)
                .values(state=_PENDING, rejections=0, next_attempt_at=utc_now())
            )
            return None

        return await self._act_on_entry(entry_id, op)

    async def drop(self, entry_id: int) -> OutboxEntry:
        """Give up a pending row or a dead letter: it is never sent (again). A row whose
        attempt is under way at that moment ends as the partner's answer says (delivered
        if it took it)."""
        await self.outbox_entry(entry_id)

        async def op(tx: WriteTx) -> str | None:
            state = (
                await tx.execute(select(OutboxRow.state).where(OutboxRow.id == entry_id))
            ).scalar_one()
            if state not in (_PENDING, _DEAD):
                return _wrong_state(entry_id, state, "dropped")
            await tx.execute(
                update(OutboxRow)
                .where(OutboxRow.id == entry_id)
                .values(state="dropped")  # last_error keeps the partner's answer
            )
            return None

        return await self._act_on_entry(entry_id, op)

    async def _act_on_entry(
        self, entry_id: int, op: Callable[[WriteTx], Awaitable[str | None]]
    ) -> OutboxEntry:
        """Run an operator's action on one row (its checks and change in one write: the
        worker cannot change the row in between); a refusal is a conflict."""
        refusal = await self._db.write(op)
        if refusal is not None:
            raise OutboxEntryConflict(refusal)
        return await self.outbox_entry(entry_id)

    async def update(self, partner_id: int, **values: Any) -> Partner:
        """Store new registration data (status, tokens, version, roles, endpoints)."""
        if isinstance(values.get("status"), PartnerStatus):
            values["status"] = values["status"].value
        values["updated_at"] = utc_now()

        async def op(tx: WriteTx) -> int:
            result = await tx.execute(
                update(PartnerRow).where(PartnerRow.id == partner_id).values(**values)
            )
            return result.rowcount

        try:
            changed = await self._db.write(op)
        finally:
            self._changed()
        if changed == 0:
            raise PartnerNotFound(partner_id)
        return await self.get(partner_id)

    async def unregister(self, partner_id: int) -> Partner:
        """Forget every token: neither side may call the other any more."""
        return await self.update(
            partner_id,
            status=PartnerStatus.UNREGISTERED,
            token_a=None,
            incoming_token=None,
            outgoing_token=None,
        )


async def registered_partners(db: Executor) -> list[Partner]:
    """The partners a change must be pushed to (in a write, or on a read connection)."""
    result = await db.execute(
        select(PartnerRow).where(PartnerRow.status == PartnerStatus.REGISTERED.value)
    )
    return [_partner(row) for row in result.all()]

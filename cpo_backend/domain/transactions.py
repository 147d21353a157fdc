"""Transactions (charging sessions) and their meter values.

The integrity rules live here, not in the protocol handlers, so that 1.6 and 2.0.1
chargers get the same guarantees:

- a replayed start returns the transaction it created the first time;
- a connector has at most one active transaction: a new start closes the old one as
  *superseded*, with a note;
- a stop for a transaction we do not know is answered normally and kept as an *orphan*;
- a stop for a transaction we closed ourselves (reconciled at boot, superseded, force
  closed) still records the charger's real values;
- meter values that arrive after a stop are kept and flagged ``after_stop``; a
  transaction reconciled at a boot that the charger goes on reporting is reopened;
- a sample or a start the charger sends twice is stored once (unique keys, insert or
  ignore), also when the resend comes after a crash or through another node.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, insert, or_, select, update

from cpo_backend.db.bulk import BulkInsert
from cpo_backend.db.database import Database
from cpo_backend.db.tables import (
    MeterValueRow,
    RemoteStartRow,
    StationRow,
    TransactionEventRow,
    TransactionRow,
)
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.errors import Conflict, NotFound
from cpo_backend.domain.events import (
    DomainEvent,
    EventBus,
    TransactionAuthorized,
    TransactionCorrected,
    TransactionEnded,
    TransactionMetered,
    TransactionReopened,
    TransactionStarted,
)
from cpo_backend.domain.meter import SampledValue, energy_register
from cpo_backend.domain.model import (
    ClosedBy,
    IdTokenInfo,
    MeterValue,
    Transaction,
    TransactionDetails,
    TransactionEvent,
    TransactionStatus,
)
from cpo_backend.domain.time import format_utc, utc_now
from cpo_backend.domain.tokens import TokenService

# OCPP 1.6: "reason ... In case of a normal stop it may be left out; Local is assumed".
DEFAULT_STOP_REASON = "Local"

# Deferred updates, one statement object each so that a batch's rows are one executemany:
# the charger's name of a 1.6 transaction (our id), and the charger's stop.
_NAMED = (
    update(TransactionRow)
    .where(TransactionRow.id == bindparam("b_id"))
    .values(charger_transaction_id=bindparam("b_name"))
)
_STOPPED = (
    update(TransactionRow)
    .where(TransactionRow.id == bindparam("b_id"))
    .values(
        status=TransactionStatus.COMPLETED.value,
        meter_stop_wh=bindparam("b_meter_stop"),
        stopped_at=bindparam("b_stopped_at"),
        stop_received_at=bindparam("b_received_at"),
        stop_reason=bindparam("b_reason"),
        stop_id_token=bindparam("b_id_token"),
        close_note=bindparam("b_note"),
        last_meter_wh=bindparam("b_last_meter"),
        last_meter_at=bindparam("b_last_meter_at"),
    )
)

# A stored meter value: where and when it was received, then the sample's own fields
# (``SampledValue``, their one definition).
METER_VALUE_COLUMNS = (
    "station_id",
    "evse_id",
    "connector_id",
    "transaction_id",
    "received_at",
    "after_stop",
    *SampledValue._fields,
)
_insert_meter_value = BulkInsert(
    MeterValueRow.__table__,  # type: ignore[arg-type]
    list(METER_VALUE_COLUMNS),
    # A sample already stored (the identity of uq_meter_values_sample) is a resend.
    skip_duplicates=True,
)
_advance_meter = (
    update(TransactionRow)
    .where(TransactionRow.id == bindparam("b_id"))
    .where(TransactionRow.status == TransactionStatus.ACTIVE.value)
    .where(
        or_(
            TransactionRow.last_meter_at.is_(None),
            TransactionRow.last_meter_at <= bindparam("b_at"),
        )
    )
    .values(last_meter_wh=bindparam("b_wh"), last_meter_at=bindparam("b_at"))
)


class TransactionNotFound(NotFound):
    noun = "transaction"


class TransactionNotActive(Conflict):
    """The transaction has ended (or is an orphan): it can be neither stopped nor closed."""

    code = "transaction_finished"

    def __init__(self, transaction_id: int, status: str, stopped_at: datetime | None) -> None:
        when = f" at {format_utc(stopped_at)}" if stopped_at is not None else ""
        super().__init__(
            f"transaction {transaction_id} ended{when} ({status}): it can no longer be stopped",
            transaction=transaction_id,
        )


@dataclass(frozen=True, slots=True)
class StartRequest:
    station_id: str
    evse_id: int
    connector_id: int
    id_token: str | None
    meter_start_wh: Decimal | None
    started_at: datetime
    reservation_id: int | None = None
    # The charger's own id (2.0.1); None when we hand out the id (1.6).
    charger_transaction_id: str | None = None
    # The token's verdict when the caller asked already (2.0.1 asks for every event that
    # carries a token): asking twice would ask a roaming eMSP twice.
    id_token_info: IdTokenInfo | None = None


@dataclass(frozen=True, slots=True)
class StartResult:
    transaction_id: int
    charger_transaction_id: str
    id_token_info: IdTokenInfo
    replayed: bool


@dataclass(frozen=True, slots=True)
class StopRequest:
    station_id: str
    charger_transaction_id: str
    meter_stop_wh: Decimal | None
    stopped_at: datetime
    id_token: str | None = None
    reason: str | None = None
    samples: Sequence[SampledValue] = ()
    id_token_info: IdTokenInfo | None = None


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    station_id: str | None = None
    status: TransactionStatus | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    offset: int = 0
    limit: int = 100


class TransactionService:
    """The transaction rules; see the module text.

    The 1.6 messages have a method that runs each in a write of its own (``start``,
    ``meter_values``, ``stop``); the same rules run inside a write the caller holds
    (``open``, ``store_samples``, ``close``, ``learn``, ``reopen``): an OCPP 2.0.1
    TransactionEvent applies several of them and its journal row in one commit.
    """

    def __init__(self, db: Database, tokens: TokenService, events: EventBus) -> None:
        self._db = db
        self._tokens = tokens
        # Active transactions by the charger's id: MeterValues, the most frequent message,
        # then needs no read. Entries leave on TransactionEnded, from whichever node.
        self._active: dict[tuple[str, str], int] = {}
        self._active_keys: dict[int, tuple[str, str]] = {}
        events.subscribe(self._forget_ended)

    def remember_active(
        self, station_id: str, charger_transaction_id: str, transaction_id: int
    ) -> None:
        """Cache an active transaction (after the commit that made or kept it active)."""
        key = (station_id, charger_transaction_id)
        self._active[key] = transaction_id
        self._active_keys[transaction_id] = key

    def _forget_ended(self, event: DomainEvent) -> None:
        if isinstance(event, TransactionEnded):
            key = self._active_keys.pop(event.transaction_id, None)
            if key is not None:
                self._active.pop(key, None)

    # -- charger messages --------------------------------------------------------------

    async def start(self, request: StartRequest) -> StartResult:
        info = request.id_token_info or await self._tokens.authorize(
            request.id_token, station_id=request.station_id, evse_id=request.evse_id
        )
        now = utc_now()
        result = await self._db.write(lambda tx: self.open(tx, request, info, now))
        if not result.replayed:
            # A replay may name a transaction that has ended since: never cache that.
            self.remember_active(
                request.station_id, result.charger_transaction_id, result.transaction_id
            )
        return result

    async def open(
        self, tx: WriteTx, request: StartRequest, info: IdTokenInfo, now: datetime
    ) -> StartResult:
        """Start a transaction in ``tx``, or find the one this start (a replay) made."""
        if request.charger_transaction_id is not None:
            # The charger names its transactions (2.0.1): the name identifies a replay.
            same_start = TransactionRow.charger_transaction_id == request.charger_transaction_id
        else:
            same_start = and_(
                TransactionRow.evse_id == request.evse_id,
                TransactionRow.connector_id == request.connector_id,
                TransactionRow.started_at == request.started_at,
                _matches(TransactionRow.meter_start_wh, request.meter_start_wh),
                _matches(TransactionRow.id_token, request.id_token),
            )
        active_here = and_(
            TransactionRow.evse_id == request.evse_id,
            TransactionRow.status == TransactionStatus.ACTIVE.value,
        )
        # One read for both questions (is this a replay; what runs on this EVSE): every
        # statement in the writer is a round trip the whole batch waits for.
        found = (
            await tx.execute(
                select(
                    TransactionRow.id,
                    TransactionRow.charger_transaction_id,
                    TransactionRow.last_meter_wh,
                    TransactionRow.last_meter_at,
                    case((same_start, True), else_=False).label("replay"),
                ).where(
                    TransactionRow.station_id == request.station_id,
                    TransactionRow.status != TransactionStatus.ORPHAN.value,
                    or_(same_start, active_here),
                )
            )
        ).all()
        replay = next((row for row in found if row.replay), None)
        if replay is not None:
            return StartResult(replay.id, replay.charger_transaction_id, info, True)
        await self._supersede(tx, request, found, now)
        inserted = await tx.execute(
            insert(TransactionRow)
            .values(
                station_id=request.station_id,
                evse_id=request.evse_id,
                connector_id=request.connector_id,
                charger_transaction_id=request.charger_transaction_id,
                status=TransactionStatus.ACTIVE.value,
                id_token=request.id_token,
                reservation_id=request.reservation_id,
                meter_start_wh=request.meter_start_wh,
                started_at=request.started_at,
                start_received_at=now,
                last_meter_wh=request.meter_start_wh,
                last_meter_at=request.started_at,
            )
            .returning(TransactionRow.id)
        )
        transaction_id: int = inserted.scalar_one()
        charger_id = request.charger_transaction_id or str(transaction_id)
        if request.charger_transaction_id is None:
            tx.defer(_NAMED, {"b_id": transaction_id, "b_name": charger_id})
        tx.emit(
            TransactionStarted(
                request.station_id,
                now,
                transaction_id,
                request.evse_id,
                request.connector_id,
                request.id_token,
            )
        )
        return StartResult(transaction_id, charger_id, info, False)

    async def reconcile_after_boot(
        self, station_id: str, only: Collection[int] | None = None
    ) -> None:
        """Close what a reboot ended: a station that boots runs no transaction any more.

        They are closed as *reconciled* with the last meter reading we have, at the
        latest sign that they were running: their last meter sample, or the station's
        last message before this connection, whichever is later (never before the start,
        never after now). If the charger later delivers its queued stop, the real values
        replace ours; if it goes on reporting the transaction, it is reopened
        (:meth:`reopen`). ``only`` limits this to some of our transaction ids (those the
        charger says are over).
        """
        now = utc_now()

        async def op(tx: WriteTx) -> None:
            seen = (
                await tx.execute(
                    select(StationRow.previous_seen_at).where(StationRow.id == station_id)
                )
            ).scalar_one_or_none()
            query = (
                select(
                    TransactionRow.id,
                    TransactionRow.last_meter_wh,
                    TransactionRow.last_meter_at,
                    TransactionRow.started_at,
                )
                .where(TransactionRow.station_id == station_id)
                .where(TransactionRow.status == TransactionStatus.ACTIVE.value)
            )
            if only is not None:
                query = query.where(TransactionRow.id.in_(list(only)))
            active = await tx.execute(query)
            for transaction in active.all():
                evidence = [
                    t for t in (transaction.last_meter_at, transaction.started_at, seen) if t
                ]
                await _close_as(
                    tx,
                    ClosedBy.RECONCILED,
                    station_id=station_id,
                    transaction_id=transaction.id,
                    last_meter_wh=transaction.last_meter_wh,
                    stopped_at=min(max(evidence, default=now), now),
                    note="the station rebooted while the transaction was active",
                    now=now,
                )

        await self._db.write(op)

    async def reopen(self, tx: WriteTx, transaction: Transaction, now: datetime) -> bool:
        """Make a transaction reconciled at a boot active again: the charger reports it
        after the boot, so the boot did not end it. False when it was not ours to
        reopen (the charger stopped it meanwhile, or it was not reconciled)."""
        changed = await tx.execute(
            update(TransactionRow)
            .where(
                TransactionRow.id == transaction.id,
                TransactionRow.status == TransactionStatus.COMPLETED.value,
                TransactionRow.closed_by == ClosedBy.RECONCILED.value,
                TransactionRow.stop_reason.is_(None),
            )
            .values(
                status=TransactionStatus.ACTIVE.value,
                closed_by=None,
                close_note=(
                    f"{transaction.close_note or ''}; reopened at {now.isoformat()}: "
                    "the charger went on reporting it"
                ),
                meter_stop_wh=None,
                stopped_at=None,
                stop_received_at=None,
            )
        )
        if not changed.rowcount:
            return False
        tx.emit(TransactionReopened(transaction.station_id, now, transaction.id))
        return True

    @staticmethod
    async def _supersede(
        tx: WriteTx, request: StartRequest, active: Sequence[Any], now: datetime
    ) -> None:
        """Close the transactions still active on the EVSE a new one starts on."""
        for old in active:
            await _close_as(
                tx,
                ClosedBy.SUPERSEDED,
                station_id=request.station_id,
                transaction_id=old.id,
                last_meter_wh=old.last_meter_wh,
                stopped_at=old.last_meter_at or request.started_at,
                note=(
                    "a new transaction started on the same connector at "
                    f"{request.started_at.isoformat()}"
                ),
                now=now,
            )

    async def meter_values(
        self,
        station_id: str,
        evse_id: int,
        connector_id: int,
        charger_transaction_id: str | None,
        samples: Sequence[SampledValue],
    ) -> None:
        """Store samples; the charger's transaction id is resolved to ours when known.

        Samples already stored (a resend) are skipped by their identity. Samples taken
        after we reconciled their transaction at a boot reopen it.
        """
        transaction_id, transaction = await self._resolve(station_id, charger_transaction_id)
        now = utc_now()
        survived = transaction is not None and survived_boot(
            transaction, max((sample.sampled_at for sample in samples), default=None)
        )

        async def op(tx: WriteTx) -> bool:
            after_stop = transaction is not None
            if survived and transaction is not None:
                after_stop = not await self.reopen(tx, transaction, now)
            self.store_samples(
                tx, station_id, evse_id, connector_id, transaction_id, after_stop, samples, now
            )
            return not after_stop

        active = await self._db.write(op)
        if survived and active and transaction_id is not None and charger_transaction_id:
            self.remember_active(station_id, charger_transaction_id, transaction_id)

    def store_samples(
        self,
        tx: WriteTx,
        station_id: str,
        evse_id: int,
        connector_id: int,
        transaction_id: int | None,
        after_stop: bool,
        samples: Sequence[SampledValue],
        now: datetime,
    ) -> None:
        """Queue ``samples`` in ``tx``; the register among them advances the transaction."""
        tx.insert_later(
            _insert_meter_value,
            [
                _meter_row(
                    station_id, evse_id, connector_id, transaction_id, sample, now, after_stop
                )
                for sample in samples
            ],
        )
        register = energy_register(samples)
        if (
            transaction_id is not None
            and not after_stop
            and register is not None
            and register.value is not None
        ):
            tx.defer(
                _advance_meter,
                {"b_id": transaction_id, "b_wh": register.value, "b_at": register.sampled_at},
            )
            tx.emit(TransactionMetered(station_id, now, transaction_id, register.value))

    async def _resolve(
        self, station_id: str, charger_transaction_id: str | None
    ) -> tuple[int | None, Transaction | None]:
        """Our id for the charger's, and the transaction when it is no longer active."""
        if charger_transaction_id is None:
            return None, None
        cached = self._active.get((station_id, charger_transaction_id))
        if cached is not None:
            return cached, None
        transaction = await self.find_by_charger_id(station_id, charger_transaction_id)
        if transaction is None:
            return None, None
        if transaction.status == TransactionStatus.ACTIVE:
            self.remember_active(station_id, charger_transaction_id, transaction.id)
            return transaction.id, None
        return transaction.id, transaction

    async def stop(self, request: StopRequest) -> IdTokenInfo | None:
        info = request.id_token_info
        if info is None and request.id_token:
            info = await self._tokens.authorize(request.id_token, station_id=request.station_id)
        now = utc_now()
        await self._db.write(lambda tx: self.close(tx, request, now))
        return info

    async def close(self, tx: WriteTx, request: StopRequest, now: datetime) -> int:
        """Record the charger's stop in ``tx``; returns our transaction id (an orphan's
        when the transaction was never seen start)."""
        reason = request.reason or DEFAULT_STOP_REASON
        found = (
            await tx.execute(
                select(TransactionRow)
                .where(TransactionRow.station_id == request.station_id)
                .where(TransactionRow.charger_transaction_id == request.charger_transaction_id)
                .order_by(TransactionRow.id.desc())
            )
        ).first()
        if found is None:
            transaction_id = await self._insert_orphan(tx, request, reason, now)
            evse_id, connector_id = 0, 0
        elif found.stop_reason is not None or found.status == TransactionStatus.ORPHAN:
            replayed: int = found.id
            return replayed  # the charger repeats a stop we already recorded
        else:
            transaction_id, evse_id, connector_id = found.id, found.evse_id, found.connector_id
            note = found.close_note
            if found.closed_by is not None:
                note = f"{note or ''}; the charger's stop arrived at {now.isoformat()}"
            values: dict[str, Any] = {
                "b_id": found.id,
                "b_meter_stop": request.meter_stop_wh,
                "b_stopped_at": request.stopped_at,
                "b_received_at": now,
                "b_reason": reason,
                "b_id_token": request.id_token,
                "b_note": note,
                "b_last_meter": found.last_meter_wh,
                "b_last_meter_at": found.last_meter_at,
            }
            # The stop's own samples (1.6 transactionData, a 2.0.1 Ended's meterValue)
            # are the newest reading too.
            register = energy_register(request.samples)
            if (
                register is not None
                and register.value is not None
                and (found.last_meter_at is None or register.sampled_at >= found.last_meter_at)
            ):
                values |= {"b_last_meter": register.value, "b_last_meter_at": register.sampled_at}
            tx.defer(_STOPPED, values)
            if found.closed_by is None:
                tx.emit(TransactionEnded(request.station_id, now, found.id, None))
            else:
                # We had closed it on an estimate: the charger's values replace ours.
                tx.emit(TransactionCorrected(request.station_id, now, found.id))
        tx.insert_later(
            _insert_meter_value,
            [
                _meter_row(
                    request.station_id, evse_id, connector_id, transaction_id, sample, now, False
                )
                for sample in request.samples
            ],
        )
        return transaction_id

    @staticmethod
    async def _insert_orphan(tx: WriteTx, request: StopRequest, reason: str, now: datetime) -> int:
        inserted = await tx.execute(
            insert(TransactionRow)
            .values(
                station_id=request.station_id,
                evse_id=0,
                connector_id=0,
                charger_transaction_id=request.charger_transaction_id,
                status=TransactionStatus.ORPHAN.value,
                stop_id_token=request.id_token,
                meter_stop_wh=request.meter_stop_wh,
                stopped_at=request.stopped_at,
                stop_received_at=now,
                stop_reason=reason,
                close_note="stop received for a transaction this CSMS never saw start",
            )
            .returning(TransactionRow.id)
        )
        orphan_id: int = inserted.scalar_one()
        return orphan_id

    async def learn(
        self,
        tx: WriteTx,
        station_id: str,
        charger_transaction_id: str,
        *,
        start: StartRequest | None = None,
        id_token: str | None = None,
        charging_state: str | None = None,
    ) -> None:
        """Add what a later message tells about a transaction (OCPP 2.0.1 events), in ``tx``.

        Facts learnt late never overwrite known ones: ``start`` (a Started event that
        arrived after other events of its transaction) fills only the start fields still
        empty, and turns an orphan (its Ended came first) into a completed transaction;
        ``id_token`` (authorization after the cable was plugged in) is set when none is
        known. ``charging_state`` is the newest state and always replaces the old one.
        """
        row = (
            await tx.execute(
                select(TransactionRow)
                .where(TransactionRow.station_id == station_id)
                .where(TransactionRow.charger_transaction_id == charger_transaction_id)
                .order_by(TransactionRow.id.desc())
            )
        ).first()
        if row is None:
            return
        values: dict[str, Any] = {}
        if charging_state is not None:
            values["charging_state"] = charging_state
        if id_token is not None and row.id_token is None:
            values["id_token"] = id_token
        if start is not None:
            known = {
                "started_at": start.started_at,
                "meter_start_wh": start.meter_start_wh,
                "id_token": start.id_token,
                "reservation_id": start.reservation_id,
            }
            values.update(
                {name: value for name, value in known.items() if getattr(row, name) is None}
            )
            if row.status == TransactionStatus.ORPHAN:
                values.update(
                    status=TransactionStatus.COMPLETED.value,
                    evse_id=start.evse_id,
                    connector_id=start.connector_id,
                    close_note=None,
                )
        if values:
            await tx.execute(
                update(TransactionRow).where(TransactionRow.id == row.id).values(**values)
            )
        now = utc_now()
        if start is not None and row.status == TransactionStatus.ORPHAN:
            # Its Ended came first (offline events out of order): the transaction starts
            # and ends now, as far as whoever follows the log can tell.
            token = values.get("id_token", row.id_token)
            tx.emit(
                TransactionStarted(
                    station_id, now, row.id, start.evse_id, start.connector_id, token
                )
            )
            tx.emit(TransactionEnded(station_id, now, row.id, None))
            return
        learnt = values.get("id_token")
        if learnt is not None and row.status != TransactionStatus.ORPHAN:
            # Cable first: the driver is known only now.
            tx.emit(TransactionAuthorized(station_id, now, row.id, learnt))

    # -- remote starts -----------------------------------------------------------------

    async def expect_remote_start(
        self, station_id: str, remote_start_id: int, id_token: str
    ) -> None:
        """Keep the token of a remote start we are about to send, by its id."""
        now = utc_now()

        async def op(tx: WriteTx) -> None:
            key = (RemoteStartRow.station_id == station_id) & (
                RemoteStartRow.remote_start_id == remote_start_id
            )
            await tx.execute(delete(RemoteStartRow).where(key))
            await tx.execute(
                insert(RemoteStartRow).values(
                    station_id=station_id,
                    remote_start_id=remote_start_id,
                    id_token=id_token,
                    created_at=now,
                )
            )

        await self._db.write(op)

    @staticmethod
    async def remote_start_token(tx: WriteTx, station_id: str, remote_start_id: int) -> str | None:
        """The token we sent with the remote start ``remote_start_id``, if we sent it."""
        token: str | None = (
            await tx.execute(
                select(RemoteStartRow.id_token).where(
                    RemoteStartRow.station_id == station_id,
                    RemoteStartRow.remote_start_id == remote_start_id,
                )
            )
        ).scalar_one_or_none()
        return token

    # -- operator ----------------------------------------------------------------------

    async def force_close(self, transaction_id: int, note: str | None = None) -> Transaction:
        """Close a transaction the charger will never stop ("soft stop"), keeping its data."""
        now = utc_now()

        async def op(tx: WriteTx) -> None:
            row = (
                await tx.execute(select(TransactionRow).where(TransactionRow.id == transaction_id))
            ).first()
            if row is None:
                raise TransactionNotFound(transaction_id)
            if row.status != TransactionStatus.ACTIVE.value:
                raise TransactionNotActive(transaction_id, row.status, row.stopped_at)
            await _close_as(
                tx,
                ClosedBy.FORCE_CLOSED,
                station_id=row.station_id,
                transaction_id=transaction_id,
                last_meter_wh=row.last_meter_wh,
                stopped_at=now,
                note=note or "closed by the operator",
                now=now,
            )

        await self._db.write(op)
        return await self.get(transaction_id)

    async def get(self, transaction_id: int) -> Transaction:
        row = await self._db.fetch_one(
            select(TransactionRow).where(TransactionRow.id == transaction_id)
        )
        if row is None:
            raise TransactionNotFound(transaction_id)
        return Transaction.model_validate(row)

    async def details(self, transaction_id: int) -> TransactionDetails:
        transaction = await self.get(transaction_id)
        rows = await self._db.fetch_all(
            select(MeterValueRow)
            .where(MeterValueRow.transaction_id == transaction_id)
            .order_by(MeterValueRow.sampled_at, MeterValueRow.id)
        )
        journal = await self._db.fetch_all(
            select(TransactionEventRow)
            .where(TransactionEventRow.transaction_id == transaction_id)
            .order_by(TransactionEventRow.seq_no)
        )
        events = [TransactionEvent.model_validate(row) for row in journal]
        received = {event.seq_no for event in events}
        return TransactionDetails(
            **transaction.model_dump(),
            meter_values=[MeterValue.model_validate(row) for row in rows],
            events=events,
            missing_seq_nos=[n for n in range(max(received, default=-1)) if n not in received],
        )

    async def find_by_charger_id(
        self, station_id: str, charger_transaction_id: str
    ) -> Transaction | None:
        row = await self._db.fetch_one(
            select(TransactionRow)
            .where(TransactionRow.station_id == station_id)
            .where(TransactionRow.charger_transaction_id == charger_transaction_id)
            .order_by(TransactionRow.id.desc())
        )
        return Transaction.model_validate(row) if row else None

    async def find(self, query: TransactionFilter) -> list[Transaction]:
        statement = select(TransactionRow).order_by(TransactionRow.id.desc())
        if query.station_id is not None:
            statement = statement.where(TransactionRow.station_id == query.station_id)
        if query.status is not None:
            statement = statement.where(TransactionRow.status == query.status.value)
        if query.started_from is not None:
            statement = statement.where(TransactionRow.started_at >= query.started_from)
        if query.started_to is not None:
            statement = statement.where(TransactionRow.started_at < query.started_to)
        statement = statement.offset(query.offset).limit(query.limit)
        return [Transaction.model_validate(row) for row in await self._db.fetch_all(statement)]


def survived_boot(transaction: Transaction, reported_at: datetime | None) -> bool:
    """Whether the charger, reporting ``transaction`` as of ``reported_at`` (its clock),
    shows that a boot we reconciled it at did not end it."""
    return (
        reported_at is not None
        and transaction.status == TransactionStatus.COMPLETED
        and transaction.closed_by == ClosedBy.RECONCILED
        and transaction.stop_reason is None
        and transaction.stop_received_at is not None
        and reported_at > transaction.stop_received_at
    )


async def _close_as(
    tx: WriteTx,
    closed_by: ClosedBy,
    *,
    station_id: str,
    transaction_id: int,
    last_meter_wh: Decimal | None,
    stopped_at: datetime,
    note: str,
    now: datetime,
) -> None:
    """Close, in ``tx``, a transaction the charger did not stop (a boot, a new start on
    its EVSE, the operator), on an estimate: its last reading is its end. The
    ``TransactionEnded`` names ``closed_by``, so that the charger's real stop, if it
    comes, is taken as a correction (:meth:`TransactionService.close`)."""
    await tx.execute(
        update(TransactionRow)
        .where(TransactionRow.id == transaction_id)
        .values(
            status=TransactionStatus.COMPLETED.value,
            closed_by=closed_by.value,
            close_note=note,
            meter_stop_wh=last_meter_wh,
            stopped_at=stopped_at,
            stop_received_at=now,
        )
    )
    tx.emit(TransactionEnded(station_id, now, transaction_id, closed_by))


def _matches(column: Any, value: Any) -> Any:
    """``column = value``, where a missing value matches only a missing value."""
    return column.is_(None) if value is None else column == value


def _meter_row(
    station_id: str,
    evse_id: int,
    connector_id: int,
    transaction_id: int | None,
    sample: SampledValue,
    received_at: datetime,
    after_stop: bool,
) -> tuple[Any, ...]:
    """A meter value row, in the order of ``METER_VALUE_COLUMNS``."""
    return (station_id, evse_id, connector_id, transaction_id, received_at, after_stop, *sample)

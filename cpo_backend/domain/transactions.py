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

from cpo_backend.db import transaction_event_store as journal_store
from cpo_backend.db import transaction_store as store
from cpo_backend.db.database import Database
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.errors import Conflict, Invalid, NotFound
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
    Transaction,
    TransactionDetails,
    TransactionStatus,
)
from cpo_backend.domain.model import StartRequest as StartRequest  # re-exported
from cpo_backend.domain.model import StopRequest as StopRequest  # re-exported
from cpo_backend.domain.time import format_utc, utc_now
from cpo_backend.domain.tokens import TokenService

# OCPP 1.6: "reason ... In case of a normal stop it may be left out; Local is assumed".
DEFAULT_STOP_REASON = "Local"


class TransactionNotFound(NotFound):
    noun = "transaction"


class NoSuchConnector(Invalid):
    """A start names EVSE or connector 0, which stand for the whole station."""

    code = "no_such_connector"

    def __init__(self, station_id: str, evse_id: int, connector_id: int) -> None:
        super().__init__(
            f"station {station_id} started a transaction on EVSE {evse_id} connector "
            f"{connector_id}: transactions run on an EVSE's connector, numbered from 1",
            station=station_id,
        )


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
class StartResult:
    transaction_id: int
    charger_transaction_id: str
    id_token_info: IdTokenInfo
    replayed: bool


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
        if request.evse_id < 1 or request.connector_id < 1:
            raise NoSuchConnector(request.station_id, request.evse_id, request.connector_id)
        found = await store.same_start_or_active(tx, request)
        replay = next((match for match in found if match.replay), None)
        if replay is not None:
            return StartResult(replay.id, replay.charger_transaction_id, info, True)
        await self._supersede(tx, request, found, now)
        transaction_id = await store.insert_transaction(tx, request, now)
        charger_id = request.charger_transaction_id or str(transaction_id)
        if request.charger_transaction_id is None:
            store.defer_charger_name(tx, transaction_id, charger_id)
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
            seen = await store.previous_seen_at(tx, station_id)
            for transaction in await store.active_on_station(tx, station_id, only):
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
        note = (
            f"{transaction.close_note or ''}; reopened at {now.isoformat()}: "
            "the charger went on reporting it"
        )
        if not await store.reopen_reconciled(tx, transaction.id, note):
            return False
        tx.emit(TransactionReopened(transaction.station_id, now, transaction.id))
        return True

    @staticmethod
    async def _supersede(
        tx: WriteTx, request: StartRequest, active: Sequence[store.StartMatch], now: datetime
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
        store.defer_samples(
            tx,
            station_id,
            evse_id,
            connector_id,
            transaction_id,
            samples,
            now,
            after_stop=after_stop,
        )
        register = energy_register(samples)
        if (
            transaction_id is not None
            and not after_stop
            and register is not None
            and register.value is not None
        ):
            store.defer_meter_advance(tx, transaction_id, register.value, register.sampled_at)
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
        found = await store.latest_by_charger_id(
            tx, request.station_id, request.charger_transaction_id
        )
        if found is None:
            transaction_id = await store.insert_orphan(
                tx,
                request,
                reason,
                now,
                note="stop received for a transaction this CSMS never saw start",
            )
            evse_id, connector_id = 0, 0
        elif found.stop_reason is not None or found.status == TransactionStatus.ORPHAN:
            return found.id  # the charger repeats a stop we already recorded
        else:
            transaction_id, evse_id, connector_id = found.id, found.evse_id, found.connector_id
            note = found.close_note
            if found.closed_by is not None:
                note = f"{note or ''}; the charger's stop arrived at {now.isoformat()}"
            last_meter_wh, last_meter_at = found.last_meter_wh, found.last_meter_at
            # The stop's own samples (1.6 transactionData, a 2.0.1 Ended's meterValue)
            # are the newest reading too.
            register = energy_register(request.samples)
            if (
                register is not None
                and register.value is not None
                and (last_meter_at is None or register.sampled_at >= last_meter_at)
            ):
                last_meter_wh, last_meter_at = register.value, register.sampled_at
            store.defer_stop(
                tx,
                found.id,
                request,
                reason,
                now,
                note=note,
                last_meter_wh=last_meter_wh,
                last_meter_at=last_meter_at,
            )
            if found.closed_by is None:
                tx.emit(TransactionEnded(request.station_id, now, found.id, None))
            else:
                # We had closed it on an estimate: the charger's values replace ours.
                tx.emit(TransactionCorrected(request.station_id, now, found.id))
        store.defer_samples(
            tx,
            request.station_id,
            evse_id,
            connector_id,
            transaction_id,
            request.samples,
            now,
            after_stop=False,
        )
        return transaction_id

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
        transaction = await store.latest_by_charger_id(tx, station_id, charger_transaction_id)
        if transaction is None:
            return
        values: dict[str, Any] = {}
        if charging_state is not None:
            values["charging_state"] = charging_state
        if id_token is not None and transaction.id_token is None:
            values["id_token"] = id_token
        if start is not None:
            known = {
                "started_at": start.started_at,
                "meter_start_wh": start.meter_start_wh,
                "id_token": start.id_token,
                "reservation_id": start.reservation_id,
            }
            values.update(
                {name: value for name, value in known.items() if getattr(transaction, name) is None}
            )
            if transaction.status == TransactionStatus.ORPHAN:
                values.update(
                    status=TransactionStatus.COMPLETED.value,
                    evse_id=start.evse_id,
                    connector_id=start.connector_id,
                    close_note=None,
                )
        if values:
            await store.update_transaction(tx, transaction.id, values)
        now = utc_now()
        if start is not None and transaction.status == TransactionStatus.ORPHAN:
            # Its Ended came first (offline events out of order): the transaction starts
            # and ends now, as far as whoever follows the log can tell.
            token = values.get("id_token", transaction.id_token)
            tx.emit(
                TransactionStarted(
                    station_id, now, transaction.id, start.evse_id, start.connector_id, token
                )
            )
            tx.emit(TransactionEnded(station_id, now, transaction.id, None))
            return
        learnt = values.get("id_token")
        if learnt is not None and transaction.status != TransactionStatus.ORPHAN:
            # Cable first: the driver is known only now.
            tx.emit(TransactionAuthorized(station_id, now, transaction.id, learnt))

    # -- remote starts -----------------------------------------------------------------

    async def expect_remote_start(
        self, station_id: str, remote_start_id: int, id_token: str
    ) -> None:
        """Keep the token of a remote start we are about to send, by its id."""
        now = utc_now()
        await self._db.write(
            lambda tx: store.keep_remote_start(tx, station_id, remote_start_id, id_token, now)
        )

    # -- operator ----------------------------------------------------------------------

    async def force_close(self, transaction_id: int, note: str | None = None) -> Transaction:
        """Close a transaction the charger will never stop ("soft stop"), keeping its data."""
        now = utc_now()

        async def op(tx: WriteTx) -> None:
            transaction = await store.transaction_by_id(tx, transaction_id)
            if transaction is None:
                raise TransactionNotFound(transaction_id)
            if transaction.status != TransactionStatus.ACTIVE:
                raise TransactionNotActive(
                    transaction_id, transaction.status, transaction.stopped_at
                )
            await _close_as(
                tx,
                ClosedBy.FORCE_CLOSED,
                station_id=transaction.station_id,
                transaction_id=transaction_id,
                last_meter_wh=transaction.last_meter_wh,
                stopped_at=now,
                note=note or "closed by the operator",
                now=now,
            )

        await self._db.write(op)
        return await self.get(transaction_id)

    async def get(self, transaction_id: int) -> Transaction:
        transaction = await store.transaction_by_id(self._db, transaction_id)
        if transaction is None:
            raise TransactionNotFound(transaction_id)
        return transaction

    async def details(self, transaction_id: int) -> TransactionDetails:
        transaction = await self.get(transaction_id)
        meter_values = await store.meter_values(self._db, transaction_id)
        events = await journal_store.journal(self._db, transaction_id)
        received = {event.seq_no for event in events}
        return TransactionDetails(
            **transaction.model_dump(),
            meter_values=meter_values,
            events=events,
            missing_seq_nos=[n for n in range(max(received, default=-1)) if n not in received],
        )

    async def find_by_charger_id(
        self, station_id: str, charger_transaction_id: str
    ) -> Transaction | None:
        return await store.latest_by_charger_id(self._db, station_id, charger_transaction_id)

    async def find(self, query: TransactionFilter) -> list[Transaction]:
        return await store.find_transactions(
            self._db,
            station_id=query.station_id,
            status=query.status,
            started_from=query.started_from,
            started_to=query.started_to,
            offset=query.offset,
            limit=query.limit,
        )


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
    await store.close_on_estimate(
        tx,
        transaction_id,
        closed_by,
        meter_stop_wh=last_meter_wh,
        stopped_at=stopped_at,
        received_at=now,
        note=note,
    )
    tx.emit(TransactionEnded(station_id, now, transaction_id, closed_by))

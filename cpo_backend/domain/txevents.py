"""Transaction events (OCPP 2.0.1): a journal, and what each event means for the session.

A 2.0.1 charger describes a session as numbered events (Started, Updated ..., Ended)
that it may send twice, send hours late (offline operation) or lose. What we keep is
the same neutral :class:`~cpo_backend.domain.model.Transaction` a 1.6 charger produces,
so every integrity rule of :mod:`cpo_backend.domain.transactions` applies unchanged;
this module only decides which of its operations an event stands for:

- the journal key (station, charger transaction id, seqNo, event type, timestamp) makes
  replays harmless: an event already journaled is answered again and changes nothing;
  an event reusing a seqNo with other content is a different event, kept and logged;
- the first event seen of a transaction opens it (normally Started; an Updated whose
  Started never came still opens it, at the Updated's time);
- a Started that arrives after later events of its transaction only fills in the start
  facts still unknown (:meth:`TransactionService.learn`);
- Ended stops it with the charger's own timestamp and final meter reading, however late
  it comes; an Ended of a transaction never seen is kept as an orphan, as in 1.6;
- ``chargingState`` is the newest one by the charger's timestamps, not by arrival;
- gaps in seqNo are read from the journal (``TransactionDetails.missing_seq_nos``);
- a Started that names only our ``remoteStartId`` gets the token we sent with it;
- an event of a transaction we reconciled at a boot, timed after that boot, reopens it;
- what the journal holds for a transaction is read once and then kept in memory, so the
  steady stream of Updated events reads nothing.

An event's effects and its journal row commit together: after a crash the charger's
resend is either a replay (all of it was committed) or new (none of it was).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from cpo_backend.db import transaction_event_store as journal_store
from cpo_backend.db import transaction_store as store
from cpo_backend.db.database import Database
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.events import DomainEvent, EventBus, TransactionEnded
from cpo_backend.domain.meter import energy_register_wh
from cpo_backend.domain.model import (
    AuthorizationStatus,
    IdTokenInfo,
    StartRequest,
    StopRequest,
    Transaction,
    TransactionStatus,
)
from cpo_backend.domain.model import TransactionEventReport as TransactionEventReport  # re-exported
from cpo_backend.domain.time import utc_now
from cpo_backend.domain.tokens import TokenService
from cpo_backend.domain.transactions import TransactionService, survived_boot

log = structlog.get_logger(__name__)

STARTED = "Started"
UPDATED = "Updated"
ENDED = "Ended"


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """Our transaction id (None for an Ended we could not tie to one) and the token verdict."""

    transaction_id: int | None
    id_token_info: IdTokenInfo | None
    replayed: bool


@dataclass
class _Progress:
    """What this node knows of one transaction's journal, read once and then kept current.

    A charger sends an Updated every few seconds per transaction; with this, a steady
    Updated costs no read at all, only writes that batch with everybody else's.
    """

    # The events journaled, by their identity; and their seqNos.
    events: set[_Identity]
    seq_nos: set[int]
    # The charger's time of the newest event that carried a charging state, and that state.
    state_at: datetime | None
    state: str | None
    # The transaction, once seen active: its id, EVSE and connector do not change any more.
    active: Transaction | None = None


_Identity = tuple[int, str, datetime]
"""An event's identity in the journal: seqNo, event type and the charger's timestamp.

The seqNo alone is not one: some chargers number every event 0 (solidstudiosh VCP)."""

_ACCEPTED = IdTokenInfo(status=AuthorizationStatus.ACCEPTED)


class TransactionEventService:
    def __init__(
        self,
        db: Database,
        transactions: TransactionService,
        tokens: TokenService,
        events: EventBus,
    ) -> None:
        self._db = db
        self._transactions = transactions
        self._tokens = tokens
        self._progress: dict[tuple[str, str], _Progress] = {}
        events.subscribe(self._forget_ended)

    def _forget_ended(self, event: DomainEvent) -> None:
        """A transaction ended by us (a boot, a supersede, the operator) is no longer the
        active one this node remembers: its next event must see it as it is now."""
        if isinstance(event, TransactionEnded) and event.closed_by is not None:
            for progress in self._progress.values():
                if progress.active is not None and progress.active.id == event.transaction_id:
                    progress.active = None

    async def record(self, event: TransactionEventReport) -> EventOutcome:
        """Apply ``event`` once, in one commit with its journal row; a replay gets the same
        kind of answer and changes nothing."""
        key = (event.station_id, event.charger_transaction_id)
        info = await self._authorize(event, key) if event.id_token else None
        progress = self._progress.get(key) or await self._load(key)
        identity = (event.seq_no, event.event_type, event.timestamp)
        if identity in progress.events:
            known = await self._transactions.find_by_charger_id(*key)
            return EventOutcome(known.id if known else None, info, True)
        expected = max(progress.seq_nos, default=-1) + 1
        if event.seq_no in progress.seq_nos:
            log.warning(
                "transaction event seqNo reused for a different event: kept",
                station=event.station_id,
                transaction=event.charger_transaction_id,
                seq_no=event.seq_no,
                event_type=event.event_type,
            )
        elif event.seq_no > expected:
            log.warning(
                "transaction event sequence gap",
                station=event.station_id,
                transaction=event.charger_transaction_id,
                expected=expected,
                received=event.seq_no,
            )
        known = progress.active or await self._transactions.find_by_charger_id(*key)
        newest_state = self._newer_state(event, progress)
        now = utc_now()

        async def op(tx: WriteTx) -> int | None:
            if event.event_type == ENDED:
                transaction_id = await self._end(tx, event, known, now)
            else:
                transaction_id = await self._start_or_update(
                    tx, event, known, newest_state, info, now
                )
            journal_store.defer_journal_entry(tx, event, transaction_id, now)
            return transaction_id

        transaction_id = await self._db.write(op)
        progress.events.add(identity)
        progress.seq_nos.add(event.seq_no)
        if event.charging_state is not None and (
            progress.state_at is None or event.timestamp >= progress.state_at
        ):
            progress.state_at, progress.state = event.timestamp, event.charging_state
        if event.event_type == ENDED:
            # Late events after the end reload the journal once; nothing stays in memory.
            self._progress.pop(key, None)
        elif progress.active is None:
            current = await self._transactions.find_by_charger_id(*key)
            if current is not None and current.status == TransactionStatus.ACTIVE:
                progress.active = current
                self._transactions.remember_active(*key, current.id)
        return EventOutcome(transaction_id, info, False)

    async def _authorize(self, event: TransactionEventReport, key: tuple[str, str]) -> IdTokenInfo:
        """The token's verdict, asked where the driver is: the event's EVSE, else (only the
        first event of a transaction must name it) the EVSE of the transaction this node
        already knows; no read for it."""
        evse_id = event.evse_id
        progress = self._progress.get(key)
        if evse_id is None and progress is not None and progress.active is not None:
            evse_id = progress.active.evse_id
        return await self._tokens.authorize(
            event.id_token, station_id=event.station_id, evse_id=evse_id
        )

    async def _load(self, key: tuple[str, str]) -> _Progress:
        journaled = await journal_store.journaled_events(self._db, *key)
        states = sorted(
            (event.timestamp, event.charging_state)
            for event in journaled
            if event.charging_state is not None
        )
        newest = states[-1] if states else (None, None)
        progress = self._progress[key] = _Progress(
            {(event.seq_no, event.event_type, event.timestamp) for event in journaled},
            {event.seq_no for event in journaled},
            *newest,
        )
        return progress

    async def _start_or_update(
        self,
        tx: WriteTx,
        event: TransactionEventReport,
        known: Transaction | None,
        newest_state: str | None,
        info: IdTokenInfo | None,
        now: datetime,
    ) -> int:
        id_token = event.id_token
        if id_token is None and event.remote_start_id is not None:
            # Started by our RequestStartTransaction and named only by its id: the token
            # we sent is the driver's.
            id_token = await store.remote_start_token(tx, event.station_id, event.remote_start_id)
        start = StartRequest(
            station_id=event.station_id,
            evse_id=event.evse_id if event.evse_id is not None else 0,
            connector_id=event.connector_id if event.connector_id is not None else 1,
            id_token=id_token,
            meter_start_wh=energy_register_wh(
                event.samples, prefer="Transaction.Begin", earliest=True
            ),
            started_at=event.timestamp,
            reservation_id=event.reservation_id,
            charger_transaction_id=event.charger_transaction_id,
        )
        after_stop = False
        if known is None:
            opened = await self._transactions.open(tx, start, info or _ACCEPTED, now)
            transaction_id = opened.transaction_id
        else:
            transaction_id = known.id
            if known.status != TransactionStatus.ACTIVE:
                # Still running after a boot we reconciled it at, or a late event.
                reopened = survived_boot(
                    known, event.timestamp
                ) and await self._transactions.reopen(tx, known, now)
                after_stop = not reopened
        late_start = start if known is not None and event.event_type == STARTED else None
        if late_start is not None or id_token is not None or newest_state is not None:
            await self._transactions.learn(
                tx,
                event.station_id,
                event.charger_transaction_id,
                start=late_start,
                id_token=id_token,
                charging_state=newest_state,
            )
        if event.samples:
            self._transactions.store_samples(
                tx,
                event.station_id,
                start.evse_id if known is None else known.evse_id,
                start.connector_id if known is None else known.connector_id,
                transaction_id,
                after_stop,
                event.samples,
                now,
            )
        return transaction_id

    async def _end(
        self, tx: WriteTx, event: TransactionEventReport, known: Transaction | None, now: datetime
    ) -> int | None:
        meter_stop = energy_register_wh(event.samples, prefer="Transaction.End")
        if meter_stop is None and known is not None:
            meter_stop = known.last_meter_wh
        transaction_id = await self._transactions.close(
            tx,
            StopRequest(
                station_id=event.station_id,
                charger_transaction_id=event.charger_transaction_id,
                meter_stop_wh=meter_stop,
                stopped_at=event.timestamp,
                id_token=event.id_token,
                reason=event.stopped_reason,
                samples=event.samples,
            ),
            now,
        )
        await self._transactions.learn(
            tx, event.station_id, event.charger_transaction_id, charging_state=event.charging_state
        )
        return transaction_id

    @staticmethod
    def _newer_state(event: TransactionEventReport, progress: _Progress) -> str | None:
        """``event``'s charging state if it changes the newest one by the charger's clock."""
        if event.charging_state is None:
            return None
        if progress.state_at is not None and event.timestamp < progress.state_at:
            return None  # a late event: a newer one already set the state
        return event.charging_state if event.charging_state != progress.state else None

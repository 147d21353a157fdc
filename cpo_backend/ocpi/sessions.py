"""Sessions: recorded from the transaction events, pushed to the token's eMSP, pulled.

:class:`SessionRecorder` is a transactional event handler: a transaction started with
a partner's token at an EVSE of ours becomes an OCPI Session (PUT), meter values update
its ``kwh`` (PATCH, at most every ``session_update_interval`` seconds, judged by the
stored ``last_updated`` so the limit holds across restarts), and its end completes it
(PATCH) and marks the CDR as owed. Each push commits with the OCPP message behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from cpo_backend.db.tables import TransactionRow
from cpo_backend.db.tables_ocpi import (
    EvseRow,
    OutboxRow,
    PartnerTokenRow,
    SessionRow,
    TariffRow,
)
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.events import (
    DomainEvent,
    TransactionEnded,
    TransactionMetered,
    TransactionStarted,
)
from cpo_backend.domain.locations import REMOVED
from cpo_backend.domain.partners import registered_partners
from cpo_backend.domain.tariffs import as_tariff
from cpo_backend.domain.time import format_utc, utc_now
from cpo_backend.ocpi.context import VERSION, OcpiContext, partner_party
from cpo_backend.ocpi.outbox import Push, outbox_row
from cpo_backend.ocpi.owned import owned_router
from cpo_backend.ocpi.transport.headers import Party
from cpo_backend.pricing import render_tariff

ACTIVE = "ACTIVE"
COMPLETED = "COMPLETED"


def kwh_number(value: Decimal) -> float:
    return float(round(value, 3))


def render_session(row: Mapping[str, Any], us: Party) -> dict[str, Any]:
    session: dict[str, Any] = {
        "country_code": us.country_code,
        "party_id": us.party_id,
        "id": str(row["id"]),
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
    if row["end_date_time"] is not None:
        session["end_date_time"] = format_utc(row["end_date_time"])
    return session


def _kwh(meter_start: Decimal | None, meter_now: Decimal | None) -> Decimal:
    if meter_start is None or meter_now is None:
        return Decimal(0)
    return max(Decimal(0), (meter_now - meter_start) / 1000)


class SessionRecorder:
    def __init__(self, ctx: OcpiContext) -> None:
        self._ctx = ctx
        # MeterValues arrive every few seconds for every transaction, roaming or not:
        # when this node last pushed each ACTIVE session, and the transactions known to
        # have none, so that most meter events cost no read. Both forget a transaction
        # when it ends; after a restart each transaction is read once.
        self._last_push: dict[int, datetime] = {}
        self._without_session: set[int] = set()

    async def on_event(self, tx: WriteTx, event: DomainEvent) -> None:
        if isinstance(event, TransactionStarted):
            await self._started(tx, event)
        elif isinstance(event, TransactionMetered):
            await self._metered(tx, event)
        elif isinstance(event, TransactionEnded):
            await self._ended(tx, event)

    def _push(self, tx: WriteTx, partner_id: int, method: str, session_id: int, body: Any) -> Any:
        us = self._ctx.us
        path = f"/{us.country_code}/{us.party_id}/{session_id}"
        push = Push("sessions", method, path, f"session:{session_id}", body)
        return tx.execute(insert(OutboxRow).values(**outbox_row(partner_id, push)))

    async def _started(self, tx: WriteTx, event: TransactionStarted) -> None:
        if not event.id_token:
            return
        token = (
            await tx.execute(
                select(PartnerTokenRow)
                .where(PartnerTokenRow.uid == event.id_token)
                .order_by(PartnerTokenRow.last_updated.desc())
            )
        ).first()
        if token is None:
            return
        owner = Party(token.country_code.upper(), token.party_id.upper())
        partner = next(
            (
                p
                for p in await registered_partners(tx)
                if p.version == VERSION and partner_party(p) == owner
            ),
            None,
        )
        evse = (
            await tx.execute(
                select(EvseRow).where(
                    EvseRow.station_id == event.station_id,
                    EvseRow.ocpp_evse_id == event.evse_id,
                    EvseRow.status != REMOVED,
                )
            )
        ).first()
        if partner is None or evse is None:
            return
        started = (
            await tx.execute(
                select(TransactionRow.started_at).where(TransactionRow.id == event.transaction_id)
            )
        ).scalar_one_or_none() or event.at
        connectors = evse.details.get("connectors", [])
        connector = next(
            (c for c in connectors if c.get("id") == str(event.connector_id)), connectors[0]
        )
        tariff = await self._tariff_at(tx, connector.get("tariff_ids", []), started)
        method = "COMMAND" if self._ctx.remote_starts.pop(token.uid, None) else None
        whitelisted = token.whitelist in ("ALWAYS", "ALLOWED")
        row = {
            "id": event.transaction_id,
            "partner_id": partner.id,
            "cdr_token": {
                "country_code": token.country_code,
                "party_id": token.party_id,
                "uid": token.uid,
                "type": token.type,
                "contract_id": token.contract_id,
            },
            "auth_method": method or ("WHITELIST" if whitelisted else "AUTH_REQUEST"),
            "location_id": evse.location_id,
            "evse_uid": evse.uid,
            "connector_id": str(connector.get("id")),
            "currency": tariff["currency"] if tariff else self._ctx.settings.currency,
            "tariff": tariff,
            "status": ACTIVE,
            "kwh": Decimal(0),
            "start_date_time": started,
            "end_date_time": None,
            "cdr_state": "none",
            "last_updated": utc_now(),
        }
        await tx.execute(insert(SessionRow).values(**row))
        await self._push(
            tx, partner.id, "PUT", event.transaction_id, render_session(row, self._ctx.us)
        )

    async def _tariff_at(
        self, tx: WriteTx, tariff_ids: list[str], moment: datetime
    ) -> dict[str, Any] | None:
        """The first of the connector's tariffs valid at ``moment``, as OCPI JSON."""
        us = self._ctx.us
        for tariff_id in tariff_ids:
            row = (
                await tx.execute(
                    select(TariffRow).where(TariffRow.id == tariff_id, TariffRow.deleted.is_(False))
                )
            ).first()
            if row is not None:
                tariff = as_tariff(row, us.country_code, us.party_id)
                if tariff.is_active_at(moment):
                    return render_tariff(tariff)
        return None

    async def _session(self, tx: WriteTx, transaction_id: int) -> Any:
        return (await tx.execute(select(SessionRow).where(SessionRow.id == transaction_id))).first()

    async def _meter_start(self, tx: WriteTx, transaction_id: int) -> Any:
        return (
            await tx.execute(select(TransactionRow).where(TransactionRow.id == transaction_id))
        ).first()

    async def _metered(self, tx: WriteTx, event: TransactionMetered) -> None:
        if event.transaction_id in self._without_session:
            return
        now = utc_now()
        interval = timedelta(seconds=self._ctx.settings.session_update_interval)
        last_push = self._last_push.get(event.transaction_id)
        if last_push is not None and now - last_push < interval:
            return
        session = await self._session(tx, event.transaction_id)
        if session is None or session.status != ACTIVE:
            self._without_session.add(event.transaction_id)
            return
        self._last_push[event.transaction_id] = session.last_updated
        if now - session.last_updated < interval:
            return
        self._last_push[event.transaction_id] = now
        transaction = await self._meter_start(tx, event.transaction_id)
        kwh = _kwh(transaction.meter_start_wh, Decimal(event.meter_wh))
        await tx.execute(
            update(SessionRow).where(SessionRow.id == session.id).values(kwh=kwh, last_updated=now)
        )
        body = {"kwh": kwh_number(kwh), "last_updated": format_utc(now)}
        await self._push(tx, session.partner_id, "PATCH", session.id, body)

    async def _ended(self, tx: WriteTx, event: TransactionEnded) -> None:
        self._last_push.pop(event.transaction_id, None)
        self._without_session.discard(event.transaction_id)
        session = await self._session(tx, event.transaction_id)
        if session is None or session.status != ACTIVE:
            return
        transaction = await self._meter_start(tx, event.transaction_id)
        meter_end = transaction.meter_stop_wh or transaction.last_meter_wh
        kwh = _kwh(transaction.meter_start_wh, meter_end)
        ended = transaction.stopped_at or event.at
        now = utc_now()
        await tx.execute(
            update(SessionRow)
            .where(SessionRow.id == session.id)
            .values(
                status=COMPLETED,
                kwh=kwh,
                end_date_time=ended,
                cdr_state="pending",
                last_updated=now,
            )
        )
        body = {
            "status": COMPLETED,
            "end_date_time": format_utc(ended),
            "kwh": kwh_number(kwh),
            "last_updated": format_utc(now),
        }
        await self._push(tx, session.partner_id, "PATCH", session.id, body)


router = owned_router(
    "/sessions", SessionRow, SessionRow.id, lambda row, ctx: render_session(row._mapping, ctx.us)
)

"""Stations: registration, credentials, boot, connection state and connector status."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from cpo_backend.db.database import Database
from cpo_backend.db.tables import ConnectorRow, StationEventRow, StationRow, TransactionRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.errors import AlreadyExists, NotFound
from cpo_backend.domain.events import (
    ConnectorStatusChanged,
    StationBooted,
    StationConnected,
    StationDisconnected,
)
from cpo_backend.domain.model import (
    Connector,
    Registration,
    Station,
    StationDetails,
    StationEvent,
)
from cpo_backend.domain.time import utc_now


class StationExists(AlreadyExists):
    noun = "station"


class StationNotFound(NotFound):
    noun = "station"


def hash_password(password: str) -> str:
    """Salted SHA-256.

    Station passwords are machine secrets (OCPP asks for 16 to 40 random characters), so
    a slow password hash buys no safety but would make a reconnect storm of thousands of
    stations cost minutes of CPU.
    """
    salt = secrets.token_hex(16)
    digest = hashlib.sha256((salt + password).encode()).hexdigest()
    return f"sha256${salt}${digest}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.sha256((salt + password).encode()).hexdigest()
    return hmac.compare_digest(candidate, digest)


@dataclass(frozen=True, slots=True)
class HandshakeView:
    """What the listener needs to accept or refuse a websocket upgrade."""

    station_id: str
    password_hash: str | None
    registration: Registration


@dataclass(frozen=True, slots=True)
class BootInfo:
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


@dataclass(frozen=True, slots=True)
class StatusReport:
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    status_at: datetime | None = None


_insert_event = insert(StationEventRow)
_station_columns = [c for c in StationRow.__table__.c if c.name != "password_hash"]


def _station(row: Any) -> Station:
    mapping = dict(row._mapping)
    mapping["has_password"] = mapping.pop("password_hash", None) is not None
    return Station.model_validate(mapping)


class StationService:
    def __init__(self, db: Database, *, node_id: str = "local") -> None:
        self._db = db
        self._node_id = node_id
        self._last_seen: dict[str, datetime] = {}
        self._status_upsert = db.upsert(
            ConnectorRow,
            ["station_id", "evse_id", "connector_id"],
            [
                "status",
                "error_code",
                "info",
                "vendor_id",
                "vendor_error_code",
                "status_at",
                "received_at",
            ],
        )
        self._touch = (
            update(StationRow)
            .where(StationRow.id == bindparam("b_id"))
            .values(last_seen_at=bindparam("b_seen"))
        )

    # -- operator -----------------------------------------------------------------

    async def register(
        self,
        station_id: str,
        *,
        password: str | None = None,
        registration: Registration = Registration.ACCEPTED,
    ) -> Station:
        async def op(tx: WriteTx) -> None:
            exists = await tx.execute(select(StationRow.id).where(StationRow.id == station_id))
            if exists.first() is not None:
                raise StationExists(station_id)
            await tx.execute(
                insert(StationRow).values(
                    id=station_id,
                    password_hash=hash_password(password) if password else None,
                    registration=registration.value,
                    auto_registered=False,
                    online=False,
                    created_at=utc_now(),
                )
            )

        await self._db.write(op)
        return await self.get(station_id)

    async def update(
        self,
        station_id: str,
        *,
        password: str | None = None,
        clear_password: bool = False,
        registration: Registration | None = None,
    ) -> Station:
        values: dict[str, Any] = {}
        if password:
            values["password_hash"] = hash_password(password)
        elif clear_password:
            values["password_hash"] = None
        if registration is not None:
            values["registration"] = registration.value
        if values:

            async def op(tx: WriteTx) -> int:
                result = await tx.execute(
                    update(StationRow).where(StationRow.id == station_id).values(**values)
                )
                return result.rowcount

            if await self._db.write(op) == 0:
                raise StationNotFound(station_id)
        return await self.get(station_id)

    async def delete(self, station_id: str) -> None:
        async def op(tx: WriteTx) -> int:
            await tx.execute(delete(ConnectorRow).where(ConnectorRow.station_id == station_id))
            await tx.execute(delete(TransactionRow).where(TransactionRow.station_id == station_id))
            result = await tx.execute(delete(StationRow).where(StationRow.id == station_id))
            return result.rowcount

        if await self._db.write(op) == 0:
            raise StationNotFound(station_id)

    async def get(self, station_id: str) -> Station:
        row = await self._db.fetch_one(
            select(*_station_columns, StationRow.password_hash).where(StationRow.id == station_id)
        )
        if row is None:
            raise StationNotFound(station_id)
        return _station(row)

    async def find(self, *, online: bool | None = None) -> list[Station]:
        query = select(*_station_columns, StationRow.password_hash).order_by(StationRow.id)
        if online is not None:
            query = query.where(StationRow.online == online)
        return [_station(row) for row in await self._db.fetch_all(query)]

    async def details(self, station_id: str) -> StationDetails:
        station = await self.get(station_id)
        return StationDetails(**station.model_dump(), connectors=await self.connectors(station_id))

    async def connectors(self, station_id: str) -> list[Connector]:
        rows = await self._db.fetch_all(
            select(ConnectorRow)
            .where(ConnectorRow.station_id == station_id)
            .order_by(ConnectorRow.evse_id, ConnectorRow.connector_id)
        )
        return [Connector.model_validate(row) for row in rows]

    async def events(self, station_id: str, *, limit: int = 100) -> list[StationEvent]:
        rows = await self._db.fetch_all(
            select(StationEventRow)
            .where(StationEventRow.station_id == station_id)
            .order_by(StationEventRow.id.desc())
            .limit(limit)
        )
        return [StationEvent.model_validate(row) for row in rows]

    # -- handshake and connection ------------------------------------------------------

    async def handshake_view(self, station_id: str) -> HandshakeView | None:
        row = await self._db.fetch_one(
            select(StationRow.id, StationRow.password_hash, StationRow.registration).where(
                StationRow.id == station_id
            )
        )
        if row is None:
            return None
        return HandshakeView(row.id, row.password_hash, Registration(row.registration))

    async def auto_register(self, station_id: str, registration: Registration) -> None:
        """Record a station the operator did not register, as the unknown-station policy says."""

        async def op(tx: WriteTx) -> None:
            exists = await tx.execute(select(StationRow.id).where(StationRow.id == station_id))
            if exists.first() is None:
                await tx.execute(
                    insert(StationRow).values(
                        id=station_id,
                        registration=registration.value,
                        auto_registered=True,
                        online=False,
                        created_at=utc_now(),
                    )
                )

        await self._db.write(op)

    async def connected(self, station_id: str, protocol: str) -> None:
        now = utc_now()
        self._last_seen.pop(station_id, None)

        async def op(tx: WriteTx) -> None:
            await tx.execute(
                update(StationRow)
                .where(StationRow.id == station_id)
                .values(
                    online=True,
                    protocol=protocol,
                    connected_at=now,
                    previous_seen_at=StationRow.last_seen_at,
                    last_seen_at=now,
                )
            )
            tx.emit(StationConnected(station_id, now, protocol))

        await self._db.write(op)

    async def disconnected(self, station_id: str) -> None:
        now = utc_now()
        self._last_seen.pop(station_id, None)

        async def op(tx: WriteTx) -> None:
            await tx.execute(
                update(StationRow)
                .where(StationRow.id == station_id)
                .values(online=False, last_seen_at=now)
            )
            tx.emit(StationDisconnected(station_id, now))

        await self._db.write(op)

    def seen(self, station_id: str) -> None:
        """Note traffic from a station; persisted by :meth:`flush_last_seen`, not per frame."""
        self._last_seen[station_id] = utc_now()

    async def flush_last_seen(self) -> None:
        if not self._last_seen:
            return
        pending, self._last_seen = self._last_seen, {}
        rows = [{"b_id": station_id, "b_seen": seen} for station_id, seen in pending.items()]

        async def op(tx: WriteTx) -> None:
            for row in rows:
                tx.defer(self._touch, row)

        await self._db.write(op)

    async def run_last_seen_flusher(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.flush_last_seen()

    async def mark_all_offline(self) -> None:
        """At start-up no station of this node can be connected yet."""

        async def op(tx: WriteTx) -> None:
            await tx.execute(update(StationRow).where(StationRow.online).values(online=False))

        await self._db.write(op)

    # -- charger messages --------------------------------------------------------------

    async def boot(self, station_id: str, info: BootInfo, protocol: str) -> Registration:
        """Store what the station says about itself; answer with the operator's decision."""
        now = utc_now()

        async def op(tx: WriteTx) -> Registration:
            row = (
                await tx.execute(select(StationRow.registration).where(StationRow.id == station_id))
            ).first()
            registration = Registration(row.registration) if row else Registration.REJECTED
            await tx.execute(
                update(StationRow)
                .where(StationRow.id == station_id)
                .values(
                    vendor=info.vendor,
                    model=info.model,
                    serial_number=info.serial_number,
                    firmware_version=info.firmware_version,
                    iccid=info.iccid,
                    imsi=info.imsi,
                    meter_type=info.meter_type,
                    meter_serial_number=info.meter_serial_number,
                    protocol=protocol,
                    last_boot_at=now,
                )
            )
            tx.emit(StationBooted(station_id, now, registration.value))
            return registration

        return await self._db.write(op)

    async def status(self, station_id: str, report: StatusReport) -> None:
        now = utc_now()
        params = {
            "station_id": station_id,
            "evse_id": report.evse_id,
            "connector_id": report.connector_id,
            "status": report.status,
            "error_code": report.error_code,
            "info": report.info,
            "vendor_id": report.vendor_id,
            "vendor_error_code": report.vendor_error_code,
            "status_at": report.status_at,
            "received_at": now,
        }

        async def op(tx: WriteTx) -> None:
            tx.defer(self._status_upsert, params)
            tx.emit(
                ConnectorStatusChanged(
                    station_id,
                    now,
                    report.evse_id,
                    report.connector_id,
                    report.status,
                    report.error_code,
                )
            )

        await self._db.write(op)

    async def record_event(
        self, station_id: str, kind: str, payload: dict[str, Any], occurred_at: datetime | None
    ) -> None:
        row = {
            "station_id": station_id,
            "kind": kind,
            "payload": payload,
            "occurred_at": occurred_at,
            "received_at": utc_now(),
        }

        async def op(tx: WriteTx) -> None:
            tx.defer(_insert_event, row)

        await self._db.write(op)

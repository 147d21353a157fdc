"""The stored stations: the statements :mod:`cpo_backend.domain.stations` runs.

The service decides what a registration, a boot or a connection means and which events
it emits; this module knows the tables ``stations``, ``connectors`` and
``station_events`` and answers in the domain's records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from cpo_backend.db.database import Database
from cpo_backend.db.keyed import insert_if_new, update_by_key
from cpo_backend.db.tables import ConnectorRow, StationEventRow, StationRow, TransactionRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.model import (
    BootInfo,
    Connector,
    HandshakeView,
    Registration,
    Station,
    StationEvent,
    StatusReport,
)

_station_columns = [c for c in StationRow.__table__.c if c.name != "password_hash"]
# Deferred with one statement object each, so that what a batch defers is one executemany.
_insert_event = insert(StationEventRow)
_touch = (
    update(StationRow)
    .where(StationRow.id == bindparam("b_id"))
    .values(last_seen_at=bindparam("b_seen"))
)


def _station(row: Any) -> Station:
    """A record says whether the station has a password, never the hash."""
    mapping = dict(row._mapping)
    mapping["has_password"] = mapping.pop("password_hash", None) is not None
    return Station.model_validate(mapping)


class StationStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Built once for the database's dialect: every status of a batch is one executemany.
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

    # -- reads of committed data ----------------------------------------------------

    async def station(self, station_id: str) -> Station | None:
        row = await self._db.fetch_one(
            select(*_station_columns, StationRow.password_hash).where(StationRow.id == station_id)
        )
        return _station(row) if row is not None else None

    async def stations(self, *, online: bool | None = None) -> list[Station]:
        """Every station in id order, or those whose ``online`` is the one given."""
        query = select(*_station_columns, StationRow.password_hash).order_by(StationRow.id)
        if online is not None:
            query = query.where(StationRow.online == online)
        return [_station(row) for row in await self._db.fetch_all(query)]

    async def connectors(self, station_id: str) -> list[Connector]:
        rows = await self._db.fetch_all(
            select(ConnectorRow)
            .where(ConnectorRow.station_id == station_id)
            .order_by(ConnectorRow.evse_id, ConnectorRow.connector_id)
        )
        return [Connector.model_validate(row) for row in rows]

    async def events(self, station_id: str, *, limit: int) -> list[StationEvent]:
        """The station's latest ``limit`` notifications, the newest first."""
        rows = await self._db.fetch_all(
            select(StationEventRow)
            .where(StationEventRow.station_id == station_id)
            .order_by(StationEventRow.id.desc())
            .limit(limit)
        )
        return [StationEvent.model_validate(row) for row in rows]

    async def handshake_view(self, station_id: str) -> HandshakeView | None:
        row = await self._db.fetch_one(
            select(StationRow.id, StationRow.password_hash, StationRow.registration).where(
                StationRow.id == station_id
            )
        )
        if row is None:
            return None
        return HandshakeView(row.id, row.password_hash, Registration(row.registration))

    # -- steps of a write ---------------------------------------------------------------

    async def add_if_new(
        self,
        tx: WriteTx,
        station_id: str,
        *,
        registration: Registration,
        auto_registered: bool,
        created_at: datetime,
        password_hash: str | None = None,
    ) -> bool:
        """Insert a station, not connected yet, unless one of that id is stored; False then."""
        return await insert_if_new(
            tx,
            StationRow.id,
            station_id,
            password_hash=password_hash,
            registration=registration.value,
            auto_registered=auto_registered,
            online=False,
            created_at=created_at,
        )

    async def change(self, tx: WriteTx, station_id: str, **columns: Any) -> bool:
        """Set ``columns`` of the station; False when there is no such station."""
        return await update_by_key(tx, StationRow.id, station_id, **columns)

    async def remove(self, tx: WriteTx, station_id: str) -> bool:
        """Delete the station with its connectors and transactions; False when there is
        no such station."""
        await tx.execute(delete(ConnectorRow).where(ConnectorRow.station_id == station_id))
        await tx.execute(delete(TransactionRow).where(TransactionRow.station_id == station_id))
        result = await tx.execute(delete(StationRow).where(StationRow.id == station_id))
        return result.rowcount > 0

    async def mark_connected(
        self, tx: WriteTx, station_id: str, protocol: str, at: datetime
    ) -> None:
        """Online since ``at``; the last sign of life before it is kept as
        ``previous_seen_at``."""
        await tx.execute(
            update(StationRow)
            .where(StationRow.id == station_id)
            .values(
                online=True,
                protocol=protocol,
                connected_at=at,
                previous_seen_at=StationRow.last_seen_at,
                last_seen_at=at,
            )
        )

    async def mark_disconnected(self, tx: WriteTx, station_id: str, at: datetime) -> None:
        await tx.execute(
            update(StationRow)
            .where(StationRow.id == station_id)
            .values(online=False, last_seen_at=at)
        )

    async def mark_all_offline(self, tx: WriteTx) -> None:
        await tx.execute(update(StationRow).where(StationRow.online).values(online=False))

    def put_last_seen_later(self, tx: WriteTx, last_seen: Mapping[str, datetime]) -> None:
        """Set each station's ``last_seen_at`` at the end of the batch."""
        for station_id, seen in last_seen.items():
            tx.defer(_touch, {"b_id": station_id, "b_seen": seen})

    async def registration(self, tx: WriteTx, station_id: str) -> Registration | None:
        """The operator's decision about the station; None for a station not stored."""
        row = (
            await tx.execute(select(StationRow.registration).where(StationRow.id == station_id))
        ).first()
        return Registration(row.registration) if row is not None else None

    async def record_boot(
        self, tx: WriteTx, station_id: str, info: BootInfo, protocol: str, at: datetime
    ) -> None:
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
                last_boot_at=at,
            )
        )

    def put_connector_status_later(
        self, tx: WriteTx, station_id: str, report: StatusReport, received_at: datetime
    ) -> None:
        """Insert or replace the connector's status at the end of the batch."""
        tx.defer(
            self._status_upsert,
            {
                "station_id": station_id,
                "evse_id": report.evse_id,
                "connector_id": report.connector_id,
                "status": report.status,
                "error_code": report.error_code,
                "info": report.info,
                "vendor_id": report.vendor_id,
                "vendor_error_code": report.vendor_error_code,
                "status_at": report.status_at,
                "received_at": received_at,
            },
        )

    def add_event_later(
        self,
        tx: WriteTx,
        station_id: str,
        kind: str,
        payload: dict[str, Any],
        occurred_at: datetime | None,
        received_at: datetime,
    ) -> None:
        """Keep a charger notification; inserted at the end of the batch."""
        tx.defer(
            _insert_event,
            {
                "station_id": station_id,
                "kind": kind,
                "payload": payload,
                "occurred_at": occurred_at,
                "received_at": received_at,
            },
        )

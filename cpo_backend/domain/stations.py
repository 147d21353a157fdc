"""Stations: registration, credentials, boot, connection state and connector status."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from cpo_backend.db.database import Database
from cpo_backend.db.station_store import StationStore
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.errors import AlreadyExists, NotFound
from cpo_backend.domain.events import (
    ConnectorStatusChanged,
    StationBooted,
    StationConnected,
    StationDisconnected,
)
from cpo_backend.domain.model import BootInfo as BootInfo  # re-exported
from cpo_backend.domain.model import (
    Connector,
    HandshakeView,
    Registration,
    Station,
    StationDetails,
    StationEvent,
)
from cpo_backend.domain.model import StatusReport as StatusReport  # re-exported
from cpo_backend.domain.time import utc_now


class StationExists(AlreadyExists):
    noun = "station"


class StationNotFound(NotFound):
    noun = "station"


# OCPP 2.0.1 part 4 limits a station's identity to 48 characters; 1.6 sets no limit, and
# the same rule serves both.
MAX_IDENTITY_LENGTH = 48


def identity_problem(station_id: str) -> str | None:
    """Why ``station_id`` cannot be a station's identity, or None when it can.

    At most 48 printable ASCII characters without spaces, with no ``/`` (it is the last
    segment of the websocket path) and no ``:`` (it is the user name of basic auth), and
    not ``.`` or ``..`` (path segments of their own)."""
    if not station_id:
        return "the station identity is empty"
    if len(station_id) > MAX_IDENTITY_LENGTH:
        return f"the station identity has more than {MAX_IDENTITY_LENGTH} characters"
    if station_id in (".", ".."):
        return f"{station_id!r} is a path segment, not a station identity"
    bad = next((char for char in station_id if not "!" <= char <= "~" or char in "/:"), None)
    if bad is not None:
        return f"the station identity holds {bad!r}: only printable ASCII without / and :"
    return None


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


class StationService:
    def __init__(self, db: Database, *, node_id: str = "local") -> None:
        self._db = db
        self._node_id = node_id
        self._store = StationStore(db)
        self._last_seen: dict[str, datetime] = {}

    # -- operator -----------------------------------------------------------------

    async def register(
        self,
        station_id: str,
        *,
        password: str | None = None,
        registration: Registration = Registration.ACCEPTED,
    ) -> Station:
        async def op(tx: WriteTx) -> None:
            added = await self._store.add_if_new(
                tx,
                station_id,
                registration=registration,
                auto_registered=False,
                created_at=utc_now(),
                password_hash=hash_password(password) if password else None,
            )
            if not added:
                raise StationExists(station_id)

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

            async def op(tx: WriteTx) -> bool:
                return await self._store.change(tx, station_id, **values)

            if not await self._db.write(op):
                raise StationNotFound(station_id)
        return await self.get(station_id)

    async def delete(self, station_id: str) -> None:
        async def op(tx: WriteTx) -> bool:
            return await self._store.remove(tx, station_id)

        if not await self._db.write(op):
            raise StationNotFound(station_id)

    async def get(self, station_id: str) -> Station:
        station = await self._store.station(station_id)
        if station is None:
            raise StationNotFound(station_id)
        return station

    async def find(self, *, online: bool | None = None) -> list[Station]:
        return await self._store.stations(online=online)

    async def details(self, station_id: str) -> StationDetails:
        station = await self.get(station_id)
        return StationDetails(**station.model_dump(), connectors=await self.connectors(station_id))

    async def connectors(self, station_id: str) -> list[Connector]:
        return await self._store.connectors(station_id)

    async def events(self, station_id: str, *, limit: int = 100) -> list[StationEvent]:
        return await self._store.events(station_id, limit=limit)

    # -- handshake and connection ------------------------------------------------------

    async def handshake_view(self, station_id: str) -> HandshakeView | None:
        return await self._store.handshake_view(station_id)

    async def auto_register(self, station_id: str, registration: Registration) -> None:
        """Record a station the operator did not register, as the unknown-station policy says."""

        async def op(tx: WriteTx) -> None:
            await self._store.add_if_new(
                tx,
                station_id,
                registration=registration,
                auto_registered=True,
                created_at=utc_now(),
            )

        await self._db.write(op)

    async def connected(self, station_id: str, protocol: str) -> None:
        now = utc_now()
        self._last_seen.pop(station_id, None)

        async def op(tx: WriteTx) -> None:
            await self._store.mark_connected(tx, station_id, protocol, now)
            tx.emit(StationConnected(station_id, now, protocol))

        await self._db.write(op)

    async def disconnected(self, station_id: str) -> None:
        now = utc_now()
        self._last_seen.pop(station_id, None)

        async def op(tx: WriteTx) -> None:
            await self._store.mark_disconnected(tx, station_id, now)
            tx.emit(StationDisconnected(station_id, now))

        await self._db.write(op)

    def seen(self, station_id: str) -> None:
        """Note traffic from a station; persisted by :meth:`flush_last_seen`, not per frame."""
        self._last_seen[station_id] = utc_now()

    async def flush_last_seen(self) -> None:
        if not self._last_seen:
            return
        pending, self._last_seen = self._last_seen, {}

        async def op(tx: WriteTx) -> None:
            self._store.put_last_seen_later(tx, pending)

        await self._db.write(op)

    async def run_last_seen_flusher(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.flush_last_seen()

    async def mark_all_offline(self) -> None:
        """At start-up no station of this node can be connected yet."""

        async def op(tx: WriteTx) -> None:
            await self._store.mark_all_offline(tx)

        await self._db.write(op)

    # -- charger messages --------------------------------------------------------------

    async def boot(self, station_id: str, info: BootInfo, protocol: str) -> Registration:
        """Store what the station says about itself; answer with the operator's decision."""
        now = utc_now()

        async def op(tx: WriteTx) -> Registration:
            # A station with no row (deleted while it was connected) is refused.
            stored = await self._store.registration(tx, station_id)
            registration = stored if stored is not None else Registration.REJECTED
            await self._store.record_boot(tx, station_id, info, protocol, now)
            tx.emit(StationBooted(station_id, now, registration.value))
            return registration

        return await self._db.write(op)

    async def status(self, station_id: str, report: StatusReport) -> None:
        now = utc_now()

        async def op(tx: WriteTx) -> None:
            self._store.put_connector_status_later(tx, station_id, report, now)
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
        received_at = utc_now()

        async def op(tx: WriteTx) -> None:
            self._store.add_event_later(tx, station_id, kind, payload, occurred_at, received_at)

        await self._db.write(op)

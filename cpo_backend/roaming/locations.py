"""Locations, EVSEs and connectors: the public catalogue of where drivers can charge.

The operator describes them (address, coordinates, connectors ...); an EVSE is bound to
one EVSE of an OCPP station, and its status is *derived* from that station's connector
statuses by :func:`evse_status`, then materialised so that a change is seen, stamped
with ``last_updated`` and published as :class:`EvseStatusChanged`. EVSEs are never
deleted: one that leaves the catalogue becomes REMOVED, as OCPI requires.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import bindparam, insert, select, update

from cpo_backend.db.database import Database
from cpo_backend.db.tables import ConnectorRow, StationRow
from cpo_backend.db.tables_ocpi import EvseRow, LocationRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.errors import Conflict, NotFound
from cpo_backend.domain.events import (
    ConnectorStatusChanged,
    DomainEvent,
    EvseStatusChanged,
    LocationChanged,
    StationConnected,
    StationDisconnected,
)
from cpo_backend.domain.model import Record
from cpo_backend.domain.paging import Executor, fetch_page, updated_window
from cpo_backend.domain.time import UtcTimestamp, utc_now

REMOVED = "REMOVED"
UNKNOWN = "UNKNOWN"

# OCPP connector status (1.6 and 2.0.1 names) -> OCPI EVSE status.
OCPP_TO_OCPI_STATUS: dict[str, str] = {
    "Available": "AVAILABLE",
    "Preparing": "CHARGING",
    "Charging": "CHARGING",
    "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING",
    "Finishing": "CHARGING",
    "Occupied": "CHARGING",
    "Reserved": "RESERVED",
    "Unavailable": "INOPERATIVE",
    "Faulted": "OUTOFORDER",
}
# With several connectors on one EVSE, the first of these that any connector has wins:
# one connector in use makes the EVSE in use, one usable connector makes it available.
STATUS_PRECEDENCE = ("CHARGING", "RESERVED", "AVAILABLE", "BLOCKED", "INOPERATIVE", "OUTOFORDER")
# A station-wide (connector 0) status that overrides every EVSE of the station.
STATION_WIDE_OVERRIDES = frozenset({"INOPERATIVE", "OUTOFORDER"})


def evse_status(online: bool, station_wide: str | None, connector_statuses: Iterable[str]) -> str:
    """The OCPI status of one EVSE from what its station reported; see docs/ocpi.md."""
    if not online:
        return UNKNOWN
    wide = OCPP_TO_OCPI_STATUS.get(station_wide or "")
    if wide in STATION_WIDE_OVERRIDES:
        return wide
    mapped = {OCPP_TO_OCPI_STATUS.get(status, UNKNOWN) for status in connector_statuses}
    return next((status for status in STATUS_PRECEDENCE if status in mapped), UNKNOWN)


class LocationNotFound(NotFound):
    noun = "location"


class EvseConflict(Conflict):
    """An EVSE uid already belongs to another location."""

    code = "evse_conflict"


_LATITUDE = r"^-?[0-9]{1,2}\.[0-9]{5,7}$"
_LONGITUDE = r"^-?[0-9]{1,3}\.[0-9]{5,7}$"
_EVSE_ID = r"^[A-Z]{2}\*?[A-Z0-9]{3}\*?E[A-Z0-9*]{1,30}$"
_CI_ID = r"^[A-Za-z0-9._-]{1,36}$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GeoLocation(_Spec):
    latitude: str = Field(pattern=_LATITUDE)
    longitude: str = Field(pattern=_LONGITUDE)


class DisplayText(_Spec):
    language: str = Field(min_length=2, max_length=2)
    text: str = Field(max_length=512)


class ConnectorSpec(_Spec):
    id: str = Field(pattern=_CI_ID)
    standard: str = Field(min_length=1, max_length=40)
    format: Literal["SOCKET", "CABLE"]
    power_type: Literal["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"]
    max_voltage: int = Field(gt=0)
    max_amperage: int = Field(gt=0)
    max_electric_power: int | None = Field(default=None, gt=0)
    tariff_ids: list[str] = Field(default_factory=list)
    terms_and_conditions: str | None = None


class EvseSpec(_Spec):
    uid: str = Field(pattern=_CI_ID)
    # eMI3 EVSE id: "NL*CPO*E1234".
    evse_id: str | None = Field(default=None, pattern=_EVSE_ID)
    # The OCPP station and EVSE (1.6: connector number) this EVSE's status comes from.
    station_id: str | None = None
    ocpp_evse_id: int | None = Field(default=None, ge=1)
    capabilities: list[str] = Field(default_factory=list)
    floor_level: str | None = Field(default=None, max_length=4)
    coordinates: GeoLocation | None = None
    physical_reference: str | None = Field(default=None, max_length=16)
    directions: list[DisplayText] = Field(default_factory=list)
    parking_restrictions: list[str] = Field(default_factory=list)
    connectors: list[ConnectorSpec] = Field(min_length=1)


class LocationSpec(_Spec):
    """What the operator says about a location; the OCPI Location minus what we own."""

    publish: bool = True
    name: str | None = Field(default=None, max_length=255)
    address: str = Field(max_length=255)
    city: str = Field(max_length=45)
    postal_code: str | None = Field(default=None, max_length=10)
    state: str | None = Field(default=None, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{3}$")
    coordinates: GeoLocation
    time_zone: str
    parking_type: str | None = None
    directions: list[DisplayText] = Field(default_factory=list)
    operator: dict[str, Any] | None = None
    suboperator: dict[str, Any] | None = None
    owner: dict[str, Any] | None = None
    facilities: list[str] = Field(default_factory=list)
    opening_times: dict[str, Any] | None = None
    charging_when_closed: bool | None = None
    images: list[dict[str, Any]] = Field(default_factory=list)
    energy_mix: dict[str, Any] | None = None
    evses: list[EvseSpec] = Field(default_factory=list)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _priced_when_published(self) -> LocationSpec:
        """AFIR: a driver sees the price of every published connector before charging."""
        if self.publish:
            unpriced = [
                f"{evse.uid}/{connector.id}"
                for evse in self.evses
                for connector in evse.connectors
                if not connector.tariff_ids
            ]
            if unpriced:
                raise ValueError(f"published connectors need a tariff (AFIR): {unpriced}")
        return self


class Evse(Record):
    uid: str
    evse_id: str | None
    station_id: str | None
    ocpp_evse_id: int | None
    status: str
    details: dict[str, Any]
    created_at: UtcTimestamp
    details_updated: UtcTimestamp
    last_updated: UtcTimestamp


class Location(Record):
    id: str
    publish: bool
    details: dict[str, Any]
    created_at: UtcTimestamp
    last_updated: UtcTimestamp
    evses: list[Evse]


async def load_locations(db: Executor, location_ids: Sequence[str]) -> list[Location]:
    """Locations with their EVSEs, in the order of ``location_ids``."""
    if not location_ids:
        return []
    rows = (await db.execute(select(LocationRow).where(LocationRow.id.in_(location_ids)))).all()
    evse_rows = (
        await db.execute(
            select(EvseRow)
            .where(EvseRow.location_id.in_(location_ids))
            .order_by(EvseRow.location_id, EvseRow.position)
        )
    ).all()
    evses: dict[str, list[Evse]] = {}
    for row in evse_rows:
        evses.setdefault(row.location_id, []).append(_evse(row))
    by_id = {
        row.id: Location(
            id=row.id,
            publish=row.publish,
            details=row.details,
            created_at=row.created_at,
            last_updated=row.last_updated,
            evses=evses.get(row.id, []),
        )
        for row in rows
    }
    return [by_id[location_id] for location_id in location_ids if location_id in by_id]


def _evse(row: Any) -> Evse:
    details = dict(row.details)
    return Evse(
        uid=row.uid,
        evse_id=details.get("evse_id"),
        station_id=row.station_id,
        ocpp_evse_id=row.ocpp_evse_id,
        status=row.status,
        details=details,
        created_at=row.created_at,
        details_updated=row.details_updated,
        last_updated=row.last_updated,
    )


async def _station_statuses(
    db: Executor, station_ids: set[str]
) -> dict[str, tuple[bool, dict[int, list[str]]]]:
    """Per station: online, and the OCPP statuses by EVSE (0 is station-wide)."""
    if not station_ids:
        return {}
    online = dict(
        (
            await db.execute(
                select(StationRow.id, StationRow.online).where(StationRow.id.in_(station_ids))
            )
        ).all()
    )
    statuses: dict[str, tuple[bool, dict[int, list[str]]]] = {
        station_id: (bool(online.get(station_id, False)), {}) for station_id in station_ids
    }
    rows = await db.execute(
        select(ConnectorRow.station_id, ConnectorRow.evse_id, ConnectorRow.status).where(
            ConnectorRow.station_id.in_(station_ids)
        )
    )
    for station_id, evse_id, status in rows.all():
        statuses[station_id][1].setdefault(evse_id, []).append(status)
    return statuses


def _derive(statuses: dict[str, tuple[bool, dict[int, list[str]]]], spec: EvseSpec | Evse) -> str:
    if spec.station_id is None or spec.ocpp_evse_id is None:
        return UNKNOWN
    online, by_evse = statuses.get(spec.station_id, (False, {}))
    wide = by_evse.get(0, [])
    return evse_status(online, wide[0] if wide else None, by_evse.get(spec.ocpp_evse_id, []))


class LocationService:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Insert, or replace what the operator said (created_at stays).
        self._save = db.upsert(LocationRow, ["id"], ["publish", "details", "last_updated"])
        # Stations that have a live EVSE, read once and forgotten whenever this service
        # writes EVSEs: most status reports then need no read at all. With several nodes,
        # an EVSE edit on another node must reach this cache through the event fan-out.
        self._bound: set[str] | None = None

    async def put(self, location_id: str, spec: LocationSpec) -> Location:
        """Create or replace a location; EVSEs left out become REMOVED."""
        now = utc_now()
        details = spec.model_dump(mode="json", exclude={"publish", "evses"}, exclude_none=True)

        async def op(tx: WriteTx) -> None:
            uids = [evse.uid for evse in spec.evses]
            taken = await tx.execute(
                select(EvseRow.uid).where(EvseRow.uid.in_(uids), EvseRow.location_id != location_id)
            )
            if clash := [uid for (uid,) in taken.all()]:
                raise EvseConflict(f"EVSE uid already used by another location: {clash}")
            location = {
                "id": location_id,
                "publish": spec.publish,
                "details": details,
                "created_at": now,
                "last_updated": now,
            }
            await tx.execute(self._save, location)
            await self._put_evses(tx, location_id, spec.evses, now)
            tx.emit(LocationChanged("", now, location_id))

        await self._db.write(op)
        return await self.get(location_id)

    async def _put_evses(
        self, tx: WriteTx, location_id: str, evses: Sequence[EvseSpec], now: datetime
    ) -> None:
        self._bound = None
        existing = {
            row.uid: row
            for row in (
                await tx.execute(select(EvseRow).where(EvseRow.location_id == location_id))
            ).all()
        }
        statuses = await _station_statuses(tx, {e.station_id for e in evses if e.station_id})
        for position, evse in enumerate(evses):
            details = evse.model_dump(
                mode="json", exclude={"uid", "station_id", "ocpp_evse_id"}, exclude_none=True
            )
            values = {
                "location_id": location_id,
                "position": position,
                "station_id": evse.station_id,
                "ocpp_evse_id": evse.ocpp_evse_id,
                "details": details,
                "status": _derive(statuses, evse),
                "details_updated": now,
                "last_updated": now,
            }
            if evse.uid in existing:
                await tx.execute(update(EvseRow).where(EvseRow.uid == evse.uid).values(**values))
            else:
                await tx.execute(insert(EvseRow).values(uid=evse.uid, created_at=now, **values))
        kept = {evse.uid for evse in evses}
        for position, uid in enumerate(
            (uid for uid in existing if uid not in kept), start=len(evses)
        ):
            if existing[uid].status != REMOVED:
                await tx.execute(
                    update(EvseRow)
                    .where(EvseRow.uid == uid)
                    .values(status=REMOVED, position=position, last_updated=now)
                )

    async def get(self, location_id: str) -> Location:
        async with self._db.read() as conn:
            found = await load_locations(conn, [location_id])
        if not found:
            raise LocationNotFound(location_id)
        return found[0]

    async def page(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
    ) -> tuple[list[Location], int]:
        """One page in creation order, and how many match in all."""
        query = select(LocationRow.id).where(
            *updated_window(LocationRow.last_updated, updated_from, updated_to)
        )
        async with self._db.read() as conn:
            rows, total = await fetch_page(
                conn, query, (LocationRow.created_at, LocationRow.id), offset, limit
            )
            return await load_locations(conn, [row.id for row in rows]), total

    async def evse_bindings_of_station(self, station_id: str) -> list[tuple[str, str, int | None]]:
        """(location id, EVSE uid, OCPP EVSE id) of the live EVSEs bound to a station."""
        rows = await self._db.fetch_all(
            select(EvseRow.location_id, EvseRow.uid, EvseRow.ocpp_evse_id)
            .where(EvseRow.station_id == station_id, EvseRow.status != REMOVED)
            .order_by(EvseRow.location_id, EvseRow.position)
        )
        return [(row.location_id, row.uid, row.ocpp_evse_id) for row in rows]

    async def on_event(self, tx: WriteTx, event: DomainEvent) -> None:
        """Projector handler: re-derive the EVSE statuses of a station that changed.

        Runs after the OCPP change committed, from the event log: the new status, its
        ``last_updated`` and the :class:`EvseStatusChanged` it appends to the log commit
        with the projector's checkpoint, never inside the charger's transaction.
        """
        if isinstance(
            event, ConnectorStatusChanged | StationConnected | StationDisconnected
        ) and event.station_id in await self._bound_stations(tx):
            # Once per commit for all the stations its events touched: a page of status
            # reports of fifty stations is then three reads and two batched updates.
            tx.gather(_rederive_stations, event.station_id)

    async def _bound_stations(self, tx: WriteTx) -> set[str]:
        if self._bound is None:
            rows = await tx.execute(
                select(EvseRow.station_id)
                .where(EvseRow.station_id.is_not(None), EvseRow.status != REMOVED)
                .distinct()
            )
            self._bound = {station_id for (station_id,) in rows.all()}
        return self._bound

    async def resync_statuses(self) -> None:
        """At start-up: every station is offline until it reconnects, so its EVSEs are
        UNKNOWN; the stations were marked offline without events, this catches up."""

        async def op(tx: WriteTx) -> None:
            await _rederive(tx, EvseRow.station_id.is_not(None))

        await self._db.write(op)


_set_evse_status = (
    update(EvseRow)
    .where(EvseRow.uid == bindparam("b_uid"))
    .values(status=bindparam("b_status"), last_updated=bindparam("b_at"))
)
_touch_location = (
    update(LocationRow)
    .where(LocationRow.id == bindparam("b_id"))
    .values(last_updated=bindparam("b_at"))
)


async def _rederive_stations(tx: WriteTx, station_ids: list[str]) -> None:
    await _rederive(tx, EvseRow.station_id.in_(sorted(set(station_ids))))


async def _rederive(tx: WriteTx, which: Any) -> None:
    """Re-derive the status of the live EVSEs ``which`` selects; store and emit changes."""
    rows = (await tx.execute(select(EvseRow).where(which, EvseRow.status != REMOVED))).all()
    if not rows:
        return
    statuses = await _station_statuses(tx, {row.station_id for row in rows})
    now = utc_now()
    touched: set[str] = set()
    for row in rows:
        status = _derive(statuses, _evse(row))
        if status == row.status:
            continue
        tx.defer(_set_evse_status, {"b_uid": row.uid, "b_status": status, "b_at": now})
        if row.location_id not in touched:
            touched.add(row.location_id)
            tx.defer(_touch_location, {"b_id": row.location_id, "b_at": now})
        tx.emit(EvseStatusChanged(row.station_id, now, row.location_id, row.uid, status))

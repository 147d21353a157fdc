"""Charging periods: the priced unit of a session, parsed from and rendered to OCPI.

OCPI gives a period only a start (it ends where the next one starts) and volumes in hours.
Internally a period carries its end and its durations in seconds: hours are not exact in
decimal (10 minutes is 0.1666... h), and a step_size of 600 s applied to 600.0000001 s would
bill a whole extra step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Any

from cpo_backend.pricing.errors import InvalidSessionDataError, PricingError
from cpo_backend.pricing.values import (
    JsonNumber,
    format_datetime,
    json_number,
    parse_datetime,
    to_decimal,
)

SECONDS_PER_HOUR = Decimal(3600)
# OCPI numbers carry 4 decimals: an hour volume is only known to 0.18 s. A volume that far
# from the period's own span is a rounded rendering of the span, not a different duration.
_HOUR_ROUNDING_S = Decimal("0.5")
_VOLUME_DECIMALS = 4


class CdrDimensionType(StrEnum):
    CURRENT = "CURRENT"
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"
    ENERGY_IMPORT = "ENERGY_IMPORT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    TIME = "TIME"


@dataclass(frozen=True, slots=True)
class Reading:
    """Average, minimum and maximum of a quantity over a period; any may be unknown."""

    average: Decimal | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def representative(self) -> Decimal | None:
        """The value restrictions compare against: the average, else the best estimate.

        CDRs may only carry MIN/MAX (CURRENT and POWER are "Session only"); a period split at
        every threshold crossing lies on one side of it, so the midpoint is on that side too.
        """
        if self.average is not None:
            return self.average
        if self.minimum is not None and self.maximum is not None:
            return (self.minimum + self.maximum) / 2
        return self.minimum if self.minimum is not None else self.maximum


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    """One homogeneous stretch of a session.

    ``charging_s`` is OCPI TIME (the EV draws or may draw power, charger-side pauses included),
    ``parking_s`` is PARKING_TIME (the EV does not request power) and ``reservation_s`` is
    RESERVATION_TIME (the EVSE was held before the session).
    """

    start: datetime
    end: datetime
    energy_kwh: Decimal = Decimal(0)
    charging_s: Decimal = Decimal(0)
    parking_s: Decimal = Decimal(0)
    reservation_s: Decimal = Decimal(0)
    power_kw: Reading = field(default_factory=Reading)
    current_a: Reading = field(default_factory=Reading)
    tariff_id: str | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidSessionDataError("charging period instants must be time-zone aware")
        if self.end < self.start:
            raise InvalidSessionDataError(
                f"charging period ends ({self.end.isoformat()}) before it starts "
                f"({self.start.isoformat()})"
            )

    @property
    def is_reservation(self) -> bool:
        return self.reservation_s > 0 and not (self.charging_s or self.parking_s or self.energy_kwh)


def check_sequence(periods: Sequence[ChargingPeriod]) -> None:
    """Refuse empty, unordered or overlapping periods: pricing walks them as one timeline."""
    if not periods:
        raise InvalidSessionDataError("a session needs at least one charging period")
    for before, after in pairwise(periods):
        if after.start < before.end:
            raise InvalidSessionDataError(
                f"charging periods overlap or are out of order at {after.start.isoformat()}"
            )


def periods_from_cdr(cdr: Mapping[str, Any]) -> list[ChargingPeriod]:
    """Parse the periods of an OCPI CDR (or Session) dict, giving each its end instant."""
    try:
        start = parse_datetime(cdr.get("start_date_time"), "start_date_time")
        end = parse_datetime(cdr.get("end_date_time"), "end_date_time")
        raw = cdr.get("charging_periods")
        if not isinstance(raw, list) or not raw:
            raise InvalidSessionDataError("charging_periods: must be a non-empty list")
        starts = [
            parse_datetime(
                _mapping(p, f"charging_periods.{i}").get("start_date_time"),
                f"charging_periods.{i}.start_date_time",
            )
            for i, p in enumerate(raw)
        ]
        if starts[0] < start or starts[-1] > end or starts != sorted(starts):
            raise InvalidSessionDataError(
                "charging_periods must be ordered and lie between start_date_time and end_date_time"
            )
        ends = [*starts[1:], end]
        periods = [
            _period(raw[i], f"charging_periods.{i}", starts[i], ends[i]) for i in range(len(raw))
        ]
    except InvalidSessionDataError:
        raise
    except PricingError as exc:
        raise InvalidSessionDataError(str(exc)) from exc
    return periods


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidSessionDataError(f"{where}: expected an object")
    return value


def _period(raw: Mapping[str, Any], where: str, start: datetime, end: datetime) -> ChargingPeriod:
    dims = raw.get("dimensions")
    if not isinstance(dims, list) or not dims:
        raise InvalidSessionDataError(f"{where}.dimensions: must be a non-empty list")
    volumes: dict[CdrDimensionType, Decimal] = {}
    for j, dim in enumerate(dims):
        entry = _mapping(dim, f"{where}.dimensions.{j}")
        try:
            kind = CdrDimensionType(str(entry.get("type")))
        except ValueError as exc:
            raise InvalidSessionDataError(
                f"{where}.dimensions.{j}.type: unknown CdrDimensionType {entry.get('type')!r}"
            ) from exc
        volumes[kind] = to_decimal(entry.get("volume"), f"{where}.dimensions.{j}.volume")
    charging_s, parking_s = _durations(
        volumes.get(CdrDimensionType.TIME, Decimal(0)),
        volumes.get(CdrDimensionType.PARKING_TIME, Decimal(0)),
        Decimal((end - start).total_seconds()),
    )
    tariff_id = raw.get("tariff_id")
    return ChargingPeriod(
        start=start,
        end=end,
        energy_kwh=volumes.get(CdrDimensionType.ENERGY, Decimal(0)),
        charging_s=charging_s,
        parking_s=parking_s,
        reservation_s=volumes.get(CdrDimensionType.RESERVATION_TIME, Decimal(0)) * SECONDS_PER_HOUR,
        power_kw=Reading(
            volumes.get(CdrDimensionType.POWER),
            volumes.get(CdrDimensionType.MIN_POWER),
            volumes.get(CdrDimensionType.MAX_POWER),
        ),
        current_a=Reading(
            volumes.get(CdrDimensionType.CURRENT),
            volumes.get(CdrDimensionType.MIN_CURRENT),
            volumes.get(CdrDimensionType.MAX_CURRENT),
        ),
        tariff_id=tariff_id if isinstance(tariff_id, str) else None,
    )


def _durations(time_h: Decimal, parking_h: Decimal, span_s: Decimal) -> tuple[Decimal, Decimal]:
    """TIME and PARKING_TIME in seconds, snapped to the period's span when they are its rounding."""
    charging_s, parking_s = time_h * SECONDS_PER_HOUR, parking_h * SECONDS_PER_HOUR
    if parking_s == 0 and abs(charging_s - span_s) <= _HOUR_ROUNDING_S:
        return span_s, parking_s
    if charging_s == 0 and abs(parking_s - span_s) <= _HOUR_ROUNDING_S:
        return charging_s, span_s
    return charging_s, parking_s


def render_charging_periods(
    periods: Sequence[ChargingPeriod], *, session: bool = False
) -> list[dict[str, Any]]:
    """Render periods as OCPI ChargingPeriod dicts.

    With ``session=False`` (a CDR) the "Session only" dimensions CURRENT and POWER are left out,
    as mod_cdrs requires; volumes carry OCPI's 4 decimals.
    """
    return [_render_period(p, session=session) for p in periods]


def _render_period(period: ChargingPeriod, *, session: bool) -> dict[str, Any]:
    hours = SECONDS_PER_HOUR
    dims: list[tuple[CdrDimensionType, Decimal | None]] = [
        (
            CdrDimensionType.ENERGY,
            period.energy_kwh if period.energy_kwh or period.charging_s else None,
        ),
        (CdrDimensionType.TIME, period.charging_s / hours if period.charging_s else None),
        (CdrDimensionType.PARKING_TIME, period.parking_s / hours if period.parking_s else None),
        (
            CdrDimensionType.RESERVATION_TIME,
            period.reservation_s / hours if period.reservation_s else None,
        ),
        (CdrDimensionType.MIN_CURRENT, period.current_a.minimum),
        (CdrDimensionType.MAX_CURRENT, period.current_a.maximum),
        (CdrDimensionType.MIN_POWER, period.power_kw.minimum),
        (CdrDimensionType.MAX_POWER, period.power_kw.maximum),
    ]
    if session:
        dims += [
            (CdrDimensionType.CURRENT, period.current_a.average),
            (CdrDimensionType.POWER, period.power_kw.average),
        ]
    rendered = [_dimension(kind, volume) for kind, volume in dims if volume is not None]
    result: dict[str, Any] = {
        "start_date_time": format_datetime(period.start),
        # "dimensions" has cardinality +: an empty stretch still says it lasted no time.
        "dimensions": rendered or [_dimension(CdrDimensionType.TIME, Decimal(0))],
    }
    if period.tariff_id is not None:
        result["tariff_id"] = period.tariff_id
    return result


def _dimension(kind: CdrDimensionType, volume: Decimal) -> dict[str, str | JsonNumber]:
    return {"type": kind.value, "volume": json_number(volume, _VOLUME_DECIMALS)}

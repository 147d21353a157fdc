"""Evaluating OCPI TariffRestrictions, and finding the instants where they can switch.

A restriction is evaluated at one moment of the session (the start of a homogeneous piece);
the splitting code uses :func:`wall_clock_boundaries` and the threshold helpers to make sure no
piece straddles a switch, so evaluating at its start is exact.

Every check yields a :class:`RestrictionCheck` instead of a bare boolean, because the operator
must be able to tell a driver *why* a price applied ("09:30 is within 09:00-18:00").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from cpo_backend.pricing.model import DayOfWeek, ReservationRestrictionType, TariffRestrictions
from cpo_backend.pricing.values import fraction_to_decimal

_DAY_MICROS = 24 * 3600 * 1_000_000


@dataclass(frozen=True, slots=True)
class RestrictionContext:
    """What the session looks like at the moment a restriction is evaluated.

    ``reservation`` is ``None`` while the vehicle is at the charger (the charging session);
    during a reservation it says whether the reservation was used or expired.
    """

    local: datetime
    energy_kwh: Fraction
    elapsed_s: Fraction
    power_kw: Fraction | None
    current_a: Fraction | None
    reservation: ReservationRestrictionType | None = None


@dataclass(frozen=True, slots=True)
class RestrictionCheck:
    """One restriction of one element, with what it requires and what was observed."""

    restriction: str
    required: str
    observed: str
    held: bool


def _micros_of_day(moment: time) -> int:
    # Integer microseconds: exact like the wall clock itself, and cheap to compare.
    return (
        (moment.hour * 60 + moment.minute) * 60 + moment.second
    ) * 1_000_000 + moment.microsecond


def _in_daily_window(now: int, start: time | None, end: time | None) -> bool:
    """Whether ``now`` (microseconds of the local day) lies in [start, end).

    ``end`` 00:00 means the end of the day, ``end`` < ``start`` wraps over midnight, and
    ``start`` == ``end`` covers the whole day (a window of 24 hours, not of zero).
    """
    low = _micros_of_day(start) if start else 0
    high = (_micros_of_day(end) if end else 0) or _DAY_MICROS
    if low < high:
        return low <= now < high
    return now >= low or now < high


def _fmt(value: Fraction | Decimal | None, unit: str) -> str:
    if value is None:
        return "unknown"
    number = fraction_to_decimal(value) if isinstance(value, Fraction) else value
    return f"{number.quantize(Decimal('0.001')).normalize():f} {unit}"


def _bound(
    name: str, observed: Fraction | None, limit: Decimal, unit: str, *, lower: bool
) -> RestrictionCheck:
    # Lower bounds are inclusive and upper bounds exclusive (OCPI: "valid from ... until").
    held = observed is not None and (observed >= limit if lower else observed < limit)
    required = f"{'>=' if lower else '<'} {_fmt(limit, unit)}"
    return RestrictionCheck(name, required, _fmt(observed, unit), held)


def check_restrictions(
    restrictions: TariffRestrictions | None, ctx: RestrictionContext
) -> tuple[RestrictionCheck, ...]:
    """Evaluate every set restriction of an element against ``ctx``.

    An element without reservation restriction describes the charging session and never
    applies to reservation time, and vice versa; that is checked as the "reservation" entry.
    """
    r = restrictions or TariffRestrictions()
    checks = []
    # The phase check is only worth showing where reservations are involved at all.
    if r.reservation is not None or ctx.reservation is not None:
        checks.append(_reservation_check(r.reservation, ctx.reservation))
    local_day = ctx.local.date()
    if r.start_time is not None or r.end_time is not None:
        now = _micros_of_day(ctx.local.time())
        held = _in_daily_window(now, r.start_time, r.end_time)
        wall_time = ctx.local.strftime("%H:%M:%S")
        checks.append(RestrictionCheck("time_of_day", daily_window(r), wall_time, held))
    if r.start_date is not None:
        checks.append(_date_check("start_date", local_day, r.start_date, lower=True))
    if r.end_date is not None:
        checks.append(_date_check("end_date", local_day, r.end_date, lower=False))
    if r.day_of_week:
        today = DayOfWeek.of(local_day)
        days = ",".join(d.value for d in r.day_of_week)
        checks.append(RestrictionCheck("day_of_week", days, today.value, today in r.day_of_week))
    observed = {
        "kwh": ctx.energy_kwh,
        "current": ctx.current_a,
        "power": ctx.power_kw,
        "duration": ctx.elapsed_s,
    }
    for name, (low, high) in limits(r).items():
        unit = _UNITS[name]
        if low is not None:
            checks.append(_bound(f"min_{name}", observed[name], low, unit, lower=True))
        if high is not None:
            checks.append(_bound(f"max_{name}", observed[name], high, unit, lower=False))
    return tuple(checks)


_UNITS = {"kwh": "kWh", "current": "A", "power": "kW", "duration": "s"}


def limits(r: TariffRestrictions) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    """The numeric (min, max) restriction pairs of ``r``, keyed kwh/current/power/duration."""

    def seconds(value: int | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    return {
        "kwh": (r.min_kwh, r.max_kwh),
        "current": (r.min_current, r.max_current),
        "power": (r.min_power, r.max_power),
        "duration": (seconds(r.min_duration), seconds(r.max_duration)),
    }


def daily_window(r: TariffRestrictions) -> str:
    """The time-of-day window as people read it: "22:00-06:00", with an open end as 24:00."""
    start = r.start_time.strftime("%H:%M") if r.start_time is not None else "00:00"
    end = r.end_time.strftime("%H:%M") if r.end_time not in (None, time(0, 0)) else "24:00"
    return f"{start}-{end}"


def _date_check(name: str, day: date, limit: date, *, lower: bool) -> RestrictionCheck:
    held = day >= limit if lower else day < limit
    required = f"{'>=' if lower else '<'} {limit.isoformat()}"
    return RestrictionCheck(name, required, day.isoformat(), held)


_PHASE_NAMES = {
    None: "charging session",
    ReservationRestrictionType.RESERVATION: "reservation",
    ReservationRestrictionType.RESERVATION_EXPIRES: "expired reservation",
}


def _reservation_check(
    wanted: ReservationRestrictionType | None, phase: ReservationRestrictionType | None
) -> RestrictionCheck:
    if wanted is None:
        held = phase is None
    elif wanted is ReservationRestrictionType.RESERVATION:
        # Reservation time is reservation time whether or not the driver turned up.
        held = phase is not None
    else:
        held = phase is ReservationRestrictionType.RESERVATION_EXPIRES
    return RestrictionCheck("reservation", _PHASE_NAMES[wanted], _PHASE_NAMES[phase], held)


def wall_clock_boundaries(
    restrictions: Iterable[TariffRestrictions], start: datetime, end: datetime, tz: ZoneInfo
) -> list[datetime]:
    """UTC instants in (start, end) where a time-of-day, date or weekday restriction can flip.

    Candidates are generated generously (both folds of an ambiguous DST hour, a day of margin):
    an extra split point never changes a price, a missing one would.
    """
    times: set[time] = set()
    for r in restrictions:
        if r.start_date or r.end_date or r.day_of_week or r.start_time or r.end_time:
            times.add(time(0, 0))
        times.update(t for t in (r.start_time, r.end_time) if t is not None)
    found: set[datetime] = set()
    first = start.astimezone(tz).date() - timedelta(days=1)
    days = (end.astimezone(tz).date() - first).days + 2
    for offset in range(days):
        day = first + timedelta(days=offset)
        for moment in times:
            for fold in (0, 1):
                local = datetime.combine(day, moment, tzinfo=tz).replace(fold=fold)
                found.add(local.astimezone(UTC))
    return sorted(t for t in found if start < t < end)


def thresholds(restrictions: Iterable[TariffRestrictions], name: str) -> list[Decimal]:
    """All min/max limits of one quantity in the tariff, e.g. ``thresholds(rs, "kwh")``."""
    found = {limit for r in restrictions for limit in limits(r)[name] if limit is not None}
    return sorted(found)

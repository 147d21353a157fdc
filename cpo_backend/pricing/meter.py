"""Building OCPI charging periods from the normalised OCPP meter values of a transaction.

The input is deliberately plain: tz-aware :class:`MeterSample` rows (cumulative
Energy.Active.Import.Register in Wh, instantaneous power in W and current in A, any of them
missing), the transaction's start and stop, and the status intervals the charger reported.

Two kinds of pause are told apart, because OCPI prices them differently:

* ``suspended_evse``: the charger withheld power (OCPP SuspendedEVSE, a smart-charging
  limit of 0). The driver still wants energy, so this is TIME, never PARKING_TIME.
* ``ev_idle``: the EV does not request power (OCPP SuspendedEV, Finishing after a full
  battery). This is PARKING_TIME. Where the charger reported no status, a stretch in which the
  register did not advance and the power reading (if any) is zero counts as EV idle too.

A new period starts wherever the state changes or a restriction of the tariff can switch:
time-of-day, date and weekday boundaries in the Location's time zone, duration and kWh
thresholds, and crossings of power and current thresholds. Instants between two samples are
found by linear interpolation, and energy is shared out along the same line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from cpo_backend.pricing.errors import InvalidSessionDataError
from cpo_backend.pricing.model import Tariff, TariffRestrictions, parse_tariff
from cpo_backend.pricing.periods import ChargingPeriod, Reading
from cpo_backend.pricing.restrictions import (
    RestrictionContext,
    check_restrictions,
    thresholds,
    wall_clock_boundaries,
)
from cpo_backend.pricing.values import microseconds, resolve_zone

_MICROSECONDS = Decimal(1_000_000)
_WH_PER_KWH = Decimal(1000)


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One normalised meter reading; ``energy_wh`` is the cumulative import register."""

    timestamp: datetime
    energy_wh: Decimal | None = None
    power_w: Decimal | None = None
    current_a: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open stretch of time [start, end)."""

    start: datetime
    end: datetime

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


def _seconds(delta: timedelta) -> Decimal:
    return Decimal(microseconds(delta)).scaleb(-6)


class _Curve:
    """A quantity known at instants, linear in between and flat beyond the first and last."""

    def __init__(self, points: Iterable[tuple[datetime, Decimal]]) -> None:
        self.points = sorted(points)

    def __bool__(self) -> bool:
        return bool(self.points)

    def at(self, instant: datetime) -> Decimal:
        first, last = self.points[0], self.points[-1]
        if instant <= first[0]:
            return first[1]
        if instant >= last[0]:
            return last[1]
        for (t0, v0), (t1, v1) in pairwise(self.points):
            if t0 <= instant <= t1:
                return v0 + (v1 - v0) * _seconds(instant - t0) / _seconds(t1 - t0)
        raise AssertionError("unreachable: instant lies between the first and last point")

    def crossings(self, level: Decimal) -> list[datetime]:
        """Instants strictly between two points where the line passes through ``level``."""
        found: list[datetime] = []
        for (t0, v0), (t1, v1) in pairwise(self.points):
            if (v0 - level) * (v1 - level) < 0:
                share = (level - v0) / (v1 - v0)
                micros = round(share * _seconds(t1 - t0) * _MICROSECONDS)
                found.append(t0 + timedelta(microseconds=int(micros)))
        return found

    def covers(self, instant: datetime) -> bool:
        return bool(self.points) and self.points[0][0] <= instant <= self.points[-1][0]


@dataclass(frozen=True, slots=True)
class _Segment:
    start: datetime
    end: datetime
    energy_kwh: Decimal
    parking: bool
    power_kw: Reading
    current_a: Reading


def build_charging_periods(
    samples: Sequence[MeterSample],
    start: datetime,
    stop: datetime,
    *,
    suspended_evse: Sequence[Interval] = (),
    ev_idle: Sequence[Interval] = (),
    tariff: Tariff | Mapping[str, Any] | None = None,
    tz: str | ZoneInfo = "UTC",
    reserved_since: datetime | None = None,
) -> list[ChargingPeriod]:
    """Turn a transaction's meter samples into OCPI charging periods.

    Pass the meterStart and meterStop readings as samples at ``start`` and ``stop``: energy
    before the first and after the last register reading is taken as not flowing. With a
    ``tariff``, periods are cut wherever one of its restrictions can switch and merged where
    none does; without, only where charging and parking alternate. ``reserved_since`` adds a
    RESERVATION_TIME period from then until ``start``.
    """
    if any(t.tzinfo is None for t in (start, stop)) or stop < start:
        raise InvalidSessionDataError(
            "start and stop must be aware instants, stop not before start"
        )
    if any(s.timestamp.tzinfo is None for s in samples):
        raise InvalidSessionDataError("meter sample timestamps must be time-zone aware")
    model = parse_tariff(tariff) if tariff is not None else None
    zone = resolve_zone(tz)
    energy = _Curve((s.timestamp, s.energy_wh) for s in samples if s.energy_wh is not None)
    power = _Curve((s.timestamp, s.power_w) for s in samples if s.power_w is not None)
    current = _Curve((s.timestamp, s.current_a) for s in samples if s.current_a is not None)
    restrictions = [e.restrictions for e in model.elements if e.restrictions] if model else []
    knots = _knots(samples, start, stop, (*suspended_evse, *ev_idle), restrictions, zone)
    knots |= _threshold_knots(restrictions, start, energy, power, current)
    ordered = sorted(k for k in knots if start <= k <= stop)
    segments = [
        _segment(a, b, energy, power, current, suspended_evse, ev_idle)
        for a, b in pairwise(ordered)
    ]
    tariff_id = model.id if model else None
    periods = [_period(group, tariff_id) for group in _merge(segments, start, model, zone)]
    if not periods:  # a transaction that started and stopped in the same instant
        periods = [ChargingPeriod(start, stop, tariff_id=tariff_id)]
    if reserved_since is not None and reserved_since < start:
        reserved = _seconds(start - reserved_since)
        periods.insert(
            0, ChargingPeriod(reserved_since, start, reservation_s=reserved, tariff_id=tariff_id)
        )
    return periods


def _knots(
    samples: Sequence[MeterSample],
    start: datetime,
    stop: datetime,
    intervals: Iterable[Interval],
    restrictions: Sequence[TariffRestrictions],
    zone: ZoneInfo,
) -> set[datetime]:
    knots = {start, stop, *(s.timestamp for s in samples)}
    knots.update(t for i in intervals for t in (i.start, i.end))
    knots.update(wall_clock_boundaries(restrictions, start, stop, zone))
    knots.update(start + timedelta(seconds=int(d)) for d in thresholds(restrictions, "duration"))
    return knots


def _threshold_knots(
    restrictions: Sequence[TariffRestrictions],
    start: datetime,
    energy: _Curve,
    power: _Curve,
    current: _Curve,
) -> set[datetime]:
    """Interpolated instants where energy, power or current cross a tariff threshold."""
    knots: set[datetime] = set()
    if energy:
        at_start = energy.at(start)
        for kwh in thresholds(restrictions, "kwh"):
            knots.update(energy.crossings(at_start + kwh * _WH_PER_KWH))
    for kw in thresholds(restrictions, "power"):
        knots.update(power.crossings(kw * _WH_PER_KWH))
    for amps in thresholds(restrictions, "current"):
        knots.update(current.crossings(amps))
    return knots


def _segment(
    a: datetime,
    b: datetime,
    energy: _Curve,
    power: _Curve,
    current: _Curve,
    suspended_evse: Sequence[Interval],
    ev_idle: Sequence[Interval],
) -> _Segment:
    middle = a + (b - a) / 2
    delivered_wh = energy.at(b) - energy.at(a) if energy else Decimal(0)
    hours = _seconds(b - a) / 3600
    if power:
        p0, p1 = power.at(a) / _WH_PER_KWH, power.at(b) / _WH_PER_KWH
        power_kw = Reading((p0 + p1) / 2, min(p0, p1), max(p0, p1))
    else:
        average = delivered_wh / _WH_PER_KWH / hours if hours else Decimal(0)
        power_kw = Reading(average, average, average)
    current_a = Reading()
    if current:
        c0, c1 = current.at(a), current.at(b)
        current_a = Reading((c0 + c1) / 2, min(c0, c1), max(c0, c1))
    idle_reading = (
        energy.covers(a)
        and energy.covers(b)
        and delivered_wh <= 0
        and power_kw.maximum in (None, 0)
    )
    paused_by_charger = any(i.contains(middle) for i in suspended_evse)
    parking = not paused_by_charger and (any(i.contains(middle) for i in ev_idle) or idle_reading)
    return _Segment(a, b, delivered_wh / _WH_PER_KWH, parking, power_kw, current_a)


def _merge(
    segments: Sequence[_Segment], start: datetime, tariff: Tariff | None, zone: ZoneInfo
) -> list[list[_Segment]]:
    """Join neighbouring segments in which the same tariff elements apply in the same state."""
    groups: list[list[_Segment]] = []
    previous: tuple[object, ...] | None = None
    delivered = Decimal(0)
    for segment in segments:
        signature = (segment.parking, *_outcomes(tariff, segment, start, delivered, zone))
        if groups and signature == previous:
            groups[-1].append(segment)
        else:
            groups.append([segment])
        previous = signature
        delivered += segment.energy_kwh
    return groups


def _outcomes(
    tariff: Tariff | None, segment: _Segment, start: datetime, delivered: Decimal, zone: ZoneInfo
) -> tuple[bool, ...]:
    if tariff is None:
        return ()
    ctx = RestrictionContext(
        local=segment.start.astimezone(zone),
        energy_kwh=Fraction(delivered),
        elapsed_s=Fraction(_seconds(segment.start - start)),
        power_kw=_fraction(segment.power_kw.representative()),
        current_a=_fraction(segment.current_a.representative()),
    )
    return tuple(
        all(c.held for c in check_restrictions(e.restrictions, ctx)) for e in tariff.elements
    )


def _fraction(value: Decimal | None) -> Fraction | None:
    return None if value is None else Fraction(value)


def _period(group: Sequence[_Segment], tariff_id: str | None) -> ChargingPeriod:
    first, last = group[0], group[-1]
    span = _seconds(last.end - first.start)
    weights = [_seconds(s.end - s.start) for s in group]
    parking = first.parking
    return ChargingPeriod(
        start=first.start,
        end=last.end,
        energy_kwh=sum((s.energy_kwh for s in group), Decimal(0)),
        charging_s=Decimal(0) if parking else span,
        parking_s=span if parking else Decimal(0),
        power_kw=_combine([s.power_kw for s in group], weights),
        current_a=_combine([s.current_a for s in group], weights),
        tariff_id=tariff_id,
    )


def _combine(readings: Sequence[Reading], weights: Sequence[Decimal]) -> Reading:
    """Time-weighted average, overall minimum and maximum of consecutive readings."""
    averages, minima, maxima = [], [], []
    for r in readings:
        if r.average is None or r.minimum is None or r.maximum is None:
            return Reading()
        averages.append(r.average)
        minima.append(r.minimum)
        maxima.append(r.maximum)
    total = sum(weights, Decimal(0))
    weighted = sum((a * w for a, w in zip(averages, weights, strict=True)), Decimal(0))
    return Reading(weighted / total if total else averages[0], min(minima), max(maxima))

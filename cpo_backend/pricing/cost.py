"""Pricing a session under an OCPI 2.2.1 tariff (mod_tariffs, and mod_cdrs on step_size).

The engine works in three passes:

1. *Split*: every charging period is cut wherever a restriction can switch inside it
   (time of day, date, weekday, duration and kWh thresholds), volumes shared out in
   proportion to time, so that each piece is homogeneous and restrictions evaluated at its
   start hold for all of it. Power and current cannot switch inside a period (it has one
   value); :mod:`cpo_backend.pricing.meter` splits at their crossings when building periods.
2. *Match*: per piece and per dimension, the first element holding a component of that
   dimension whose restrictions all hold prices it. FLAT is charged once per phase (charging
   session, reservation), from the first piece where some element's FLAT applies.
3. *Step and limit*: step_size is applied once per session to ENERGY, once to TIME and
   PARKING_TIME together (to the dimension of the last time-based charge), once to reservation
   time; then min_price / max_price bound the total.

All arithmetic is on ``Fraction``: an hour is 3600 s and 7 minutes at 1.00/h is 0.11666...,
which no ``Decimal`` holds exactly. Values enter as ``Decimal`` and leave as ``Decimal``; only
the payable amounts are rounded, by the one rule of :mod:`cpo_backend.pricing.rounding`.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from cpo_backend.pricing.breakdown import (
    ComponentCharge,
    CostBreakdown,
    CostCategory,
    CostTotal,
    Money,
    PeriodCost,
    PriceLimitApplied,
    SkippedElement,
)
from cpo_backend.pricing.model import (
    Price,
    PriceComponent,
    Tariff,
    TariffDimensionType,
    parse_tariff,
)
from cpo_backend.pricing.model import (
    ReservationRestrictionType as Reservation,
)
from cpo_backend.pricing.periods import ChargingPeriod, check_sequence, periods_from_cdr
from cpo_backend.pricing.restrictions import (
    RestrictionCheck,
    RestrictionContext,
    check_restrictions,
    thresholds,
    wall_clock_boundaries,
)
from cpo_backend.pricing.rounding import minor_unit, payable, round_half_up
from cpo_backend.pricing.values import fraction_to_decimal, microseconds, resolve_zone

_SECONDS_PER_HOUR = Fraction(3600)
_KWH_PER_WH = Fraction(1, 1000)
_MICROSECONDS = 1_000_000
_ZERO = Fraction(0)

Dim = TariffDimensionType
_TIME_BASED = (Dim.TIME, Dim.PARKING_TIME)


@dataclass(frozen=True, slots=True)
class _Piece:
    """A homogeneous part of one charging period, all quantities exact."""

    period_index: int
    start: datetime
    end: datetime
    ctx: RestrictionContext
    energy_kwh: Fraction
    charging_s: Fraction
    parking_s: Fraction
    reservation_s: Fraction


@dataclass(slots=True)
class _Line:
    """One component charge while it is being computed; ``extra`` comes from step_size."""

    piece: _Piece
    dimension: TariffDimensionType
    category: CostCategory
    element_index: int
    component: PriceComponent
    volume: Fraction
    checks: tuple[RestrictionCheck, ...]
    skipped: tuple[SkippedElement, ...]
    extra: Fraction = _ZERO
    step_note: str | None = None
    excl_vat: Fraction = _ZERO
    incl_vat: Fraction = _ZERO

    def settle(self) -> None:
        """Compute the amounts, once step_size has had its say on ``extra``."""
        billed = self.volume + self.extra
        per_unit = _SECONDS_PER_HOUR if self.dimension in _TIME_BASED else Fraction(1)
        self.excl_vat = Fraction(self.component.price) * billed / per_unit
        vat = self.component.vat
        self.incl_vat = self.excl_vat if vat is None else self.excl_vat * (1 + Fraction(vat) / 100)


@dataclass(slots=True)
class _Matcher:
    """Finds the applicable element per dimension for one piece, evaluating each element once."""

    tariff: Tariff
    ctx: RestrictionContext
    order: Sequence[int]
    _cache: dict[int, tuple[RestrictionCheck, ...]] = field(default_factory=dict)

    def checks(self, index: int) -> tuple[RestrictionCheck, ...]:
        if index not in self._cache:
            self._cache[index] = check_restrictions(
                self.tariff.elements[index].restrictions, self.ctx
            )
        return self._cache[index]

    def find(
        self, dimension: TariffDimensionType
    ) -> tuple[int | None, PriceComponent | None, tuple[SkippedElement, ...]]:
        skipped: list[SkippedElement] = []
        for index in self.order:
            component = self.tariff.elements[index].component(dimension)
            if component is None:
                continue
            checks = self.checks(index)
            failed = tuple(c for c in checks if not c.held)
            if not failed:
                return index, component, tuple(skipped)
            skipped.append(SkippedElement(index, failed))
        return None, None, tuple(skipped)


def price_session(
    tariff: Tariff | Mapping[str, Any],
    periods_or_cdr: Sequence[ChargingPeriod] | Mapping[str, Any],
    tz: str | ZoneInfo,
    *,
    reservation_expired: bool | None = None,
) -> CostBreakdown:
    """Price a session under ``tariff`` and explain every amount.

    ``periods_or_cdr`` is either our :class:`ChargingPeriod` list (e.g. from
    :func:`cpo_backend.pricing.meter.build_charging_periods`) or an OCPI CDR/Session dict with
    ``start_date_time``, ``end_date_time`` and ``charging_periods``. ``tz`` is the Location's
    ``time_zone``, in which time-of-day, date and weekday restrictions are evaluated.
    A reservation counts as expired when no period has charging, parking or energy, unless
    ``reservation_expired`` says otherwise.
    """
    model = parse_tariff(tariff)
    zone = resolve_zone(tz)
    periods = (
        periods_from_cdr(periods_or_cdr)
        if isinstance(periods_or_cdr, Mapping)
        else list(periods_or_cdr)
    )
    check_sequence(periods)
    expired = (
        all(p.is_reservation for p in periods)
        if reservation_expired is None
        else reservation_expired
    )
    pieces = _split(model, periods, zone, expired)
    lines, unpriced = _charge(model, pieces, expired)
    return _breakdown(model, zone, periods, pieces, lines, unpriced, _notes(model, periods))


def _seconds(delta: timedelta) -> Fraction:
    return Fraction(microseconds(delta), _MICROSECONDS)


def _split(
    tariff: Tariff, periods: Sequence[ChargingPeriod], tz: ZoneInfo, expired: bool
) -> list[_Piece]:
    restrictions = [e.restrictions for e in tariff.elements if e.restrictions is not None]
    first = periods[0].start
    session = [p for p in periods if not p.is_reservation]
    session_start = session[0].start if session else first
    durations = thresholds(restrictions, "duration")
    cuts = sorted(
        {
            *wall_clock_boundaries(restrictions, first, periods[-1].end, tz),
            *(session_start + timedelta(seconds=int(d)) for d in durations),
        }
    )
    kwh_limits = [Fraction(k) for k in thresholds(restrictions, "kwh")]
    phase = Reservation.RESERVATION_EXPIRES if expired else Reservation.RESERVATION
    pieces: list[_Piece] = []
    energy_before = _ZERO
    for index, period in enumerate(periods):
        span = _seconds(period.end - period.start)
        energy = Fraction(period.energy_kwh)
        edges = {_ZERO, Fraction(1)}
        if span:
            inside = cuts[bisect_right(cuts, period.start) : bisect_left(cuts, period.end)]
            edges.update(_seconds(t - period.start) / span for t in inside)
        if energy > 0:
            reached = energy_before + energy
            edges.update(
                (k - energy_before) / energy for k in kwh_limits if energy_before < k < reached
            )
        power, current = _representative(period)
        base = RestrictionContext(
            local=period.start.astimezone(tz),
            energy_kwh=energy_before,
            elapsed_s=_seconds(period.start - (first if period.is_reservation else session_start)),
            power_kw=power,
            current_a=current,
            reservation=phase if period.is_reservation else None,
        )
        for low, high in pairwise(sorted(edges)):
            pieces.append(_piece(index, period, base, low, high, tz))
        if not period.is_reservation:
            energy_before += energy
    return pieces


def _piece(
    index: int,
    period: ChargingPeriod,
    base: RestrictionContext,
    low: Fraction,
    high: Fraction,
    tz: ZoneInfo,
) -> _Piece:
    """The share [low, high) of ``period``; volumes in proportion to its share of time."""
    span = _seconds(period.end - period.start)
    start = _at(period, low, span)
    share = high - low
    energy = Fraction(period.energy_kwh)
    ctx = base
    if low:
        ctx = replace(
            base,
            local=start.astimezone(tz),
            energy_kwh=base.energy_kwh + energy * low,
            elapsed_s=base.elapsed_s + low * span,
        )
    return _Piece(
        period_index=index,
        start=start,
        end=_at(period, high, span),
        ctx=ctx,
        energy_kwh=energy * share,
        charging_s=Fraction(period.charging_s) * share,
        parking_s=Fraction(period.parking_s) * share,
        reservation_s=Fraction(period.reservation_s) * share,
    )


def _at(period: ChargingPeriod, share: Fraction, span: Fraction) -> datetime:
    if share == 0:
        return period.start
    if share == 1:
        return period.end
    return period.start + timedelta(microseconds=math.floor(share * span * _MICROSECONDS))


def _representative(period: ChargingPeriod) -> tuple[Fraction | None, Fraction | None]:
    """Power (kW) and current (A) that power/current restrictions see for ``period``.

    Without a reading, power is the true average energy / charging time; a period without
    charging time is one where the EV draws nothing, so both are zero there. A current that
    was never measured stays unknown, and a restriction on it then does not hold.
    """
    idle = _ZERO if period.charging_s == 0 else None
    power = period.power_kw.representative()
    if power is None and period.charging_s > 0:
        return (
            Fraction(period.energy_kwh) / (Fraction(period.charging_s) / _SECONDS_PER_HOUR),
            _fraction(period.current_a.representative(), idle),
        )
    return _fraction(power, idle), _fraction(period.current_a.representative(), idle)


def _fraction(value: Decimal | None, default: Fraction | None) -> Fraction | None:
    return default if value is None else Fraction(value)


def _charge(
    tariff: Tariff, pieces: Sequence[_Piece], expired: bool
) -> tuple[list[list[_Line]], list[list[str]]]:
    """Match every dimension of every piece; returns the lines and the unpriced notes per piece."""
    everything = range(len(tariff.elements))
    reservation_order: Sequence[int] = everything
    if expired:
        # mod_tariffs: with both kinds present, an expired reservation is priced by the
        # RESERVATION_EXPIRES element, wherever it stands in the list.
        expires = [
            i
            for i, e in enumerate(tariff.elements)
            if e.restrictions is not None
            and e.restrictions.reservation is Reservation.RESERVATION_EXPIRES
        ]
        reservation_order = [*expires, *(i for i in everything if i not in expires)]
    flat_charged = {False: False, True: False}
    lines: list[list[_Line]] = []
    unpriced: list[list[str]] = []
    for piece in pieces:
        reserved = piece.ctx.reservation is not None
        matcher = _Matcher(tariff, piece.ctx, reservation_order if reserved else everything)
        mine: list[_Line] = []
        notes: list[str] = []
        if not flat_charged[reserved]:
            category = CostCategory.RESERVATION if reserved else CostCategory.FIXED
            flat = _match_line(matcher, piece, Dim.FLAT, Fraction(1), category, notes.append)
            if flat is not None:
                mine.append(flat)
                flat_charged[reserved] = True
        for dimension, volume, category in _quantities(piece, reserved):
            if volume:
                line = _match_line(matcher, piece, dimension, volume, category, notes.append)
                if line is not None:
                    mine.append(line)
        lines.append(mine)
        unpriced.append(notes)
    return lines, unpriced


def _quantities(
    piece: _Piece, reserved: bool
) -> tuple[tuple[TariffDimensionType, Fraction, CostCategory], ...]:
    # Reservation elements "can only have FLAT and TIME", TIME being the reserved time.
    if reserved:
        return ((Dim.TIME, piece.reservation_s, CostCategory.RESERVATION),)
    # PARKING_TIME after TIME: within a piece parking follows charging, which matters when
    # step_size looks for the last time-based charge.
    return (
        (Dim.ENERGY, piece.energy_kwh, CostCategory.ENERGY),
        (Dim.TIME, piece.charging_s, CostCategory.TIME),
        (Dim.PARKING_TIME, piece.parking_s, CostCategory.PARKING),
    )


def _match_line(
    matcher: _Matcher,
    piece: _Piece,
    dimension: TariffDimensionType,
    volume: Fraction,
    category: CostCategory,
    unpriced: Callable[[str], None],
) -> _Line | None:
    index, component, skipped = matcher.find(dimension)
    if index is None or component is None:
        # Nothing to explain when the tariff does not price this dimension at all.
        if dimension is not Dim.FLAT and skipped:
            reasons = "; ".join(
                f"element {s.element_index}: {', '.join(c.restriction for c in s.failed)}"
                for s in skipped
            )
            unpriced(f"{dimension.value} not charged, no element applies: {reasons}")
        return None
    return _Line(
        piece, dimension, category, index, component, volume, matcher.checks(index), skipped
    )


def _apply_step_sizes(lines: Sequence[_Line]) -> None:
    """Apply step_size once per session and group, as mod_cdrs "step_size" describes.

    The session total of a group is rounded up with the step_size of its last charge, and the
    extra goes to that last charge. TIME and PARKING_TIME form one group: only the dimension of
    the last time-based charge is rounded (charging followed by parking is not rounded).
    """
    session = [line for line in lines if line.category is not CostCategory.RESERVATION]
    _round_up([line for line in session if line.dimension is Dim.ENERGY], _KWH_PER_WH, "Wh")
    timed = [line for line in session if line.dimension in _TIME_BASED]
    if timed:
        last = timed[-1].dimension
        _round_up([line for line in timed if line.dimension is last], Fraction(1), "s")
    reserved = [line for line in lines if line.category is CostCategory.RESERVATION]
    _round_up([line for line in reserved if line.dimension is Dim.TIME], Fraction(1), "s")


def _round_up(group: Sequence[_Line], unit: Fraction, unit_name: str) -> None:
    if not group:
        return
    last = group[-1]
    step = last.component.step_size
    if step <= 0:
        return
    total = sum((line.volume for line in group), _ZERO)
    size = step * unit
    billed = math.ceil(total / size) * size
    if billed == total:
        return
    last.extra = billed - total
    last.step_note = (
        f"step_size {step} {unit_name} of element {last.element_index}: the session's billable "
        f"{last.dimension.value} of {_show(total / unit)} {unit_name} is billed as "
        f"{_show(billed / unit)} {unit_name}; the extra {_show(last.extra / unit)} {unit_name} "
        "is charged here"
    )


def _show(value: Fraction) -> str:
    return f"{fraction_to_decimal(value).quantize(Decimal('0.001')).normalize():f}"


def _limit(
    tariff: Tariff, excl: Fraction, incl: Fraction
) -> tuple[Fraction, Fraction, list[PriceLimitApplied]]:
    """Bound the total by min_price and max_price, excl. and incl. VAT each on its own.

    A limit without incl_vat moves the incl. total by the session's own VAT ratio, so the two
    totals never contradict each other.
    """
    applied: list[PriceLimitApplied] = []
    for name, price, outside in (
        ("min_price", tariff.min_price, operator.lt),
        ("max_price", tariff.max_price, operator.gt),
    ):
        if price is None:
            continue
        new_excl = Fraction(price.excl_vat) if outside(excl, Fraction(price.excl_vat)) else excl
        new_incl = _limited_incl(price, excl, incl, new_excl, outside)
        for basis, before, after in (("excl_vat", excl, new_excl), ("incl_vat", incl, new_incl)):
            if before != after:
                applied.append(
                    PriceLimitApplied(
                        name, basis, fraction_to_decimal(before), fraction_to_decimal(after)
                    )
                )
        excl, incl = new_excl, new_incl
    return excl, incl, applied


def _limited_incl(
    price: Price,
    excl: Fraction,
    incl: Fraction,
    new_excl: Fraction,
    outside: Callable[[Fraction, Fraction], bool],
) -> Fraction:
    if price.incl_vat is not None:
        limit = Fraction(price.incl_vat)
        return limit if outside(incl, limit) else incl
    if new_excl == excl:
        return incl
    return new_excl * incl / excl if excl else new_excl


def _notes(tariff: Tariff, periods: Sequence[ChargingPeriod]) -> list[str]:
    notes: list[str] = []
    if not tariff.is_active_at(periods[0].start):
        notes.append(
            f"tariff {tariff.id} is not valid at the session start "
            f"(start_date_time/end_date_time); priced with it as requested"
        )
    foreign = sorted(
        {p.tariff_id for p in periods if p.tariff_id not in (None, tariff.id)}, key=str
    )
    if foreign:
        notes.append(f"periods reference other tariffs {foreign}; all priced with {tariff.id}")
    return notes


def _breakdown(
    tariff: Tariff,
    zone: ZoneInfo,
    periods: Sequence[ChargingPeriod],
    pieces: Sequence[_Piece],
    lines: Sequence[Sequence[_Line]],
    unpriced: Sequence[Sequence[str]],
    notes: Sequence[str],
) -> CostBreakdown:
    flat = [line for group in lines for line in group]
    _apply_step_sizes(flat)
    for line in flat:
        line.settle()
    decimals = minor_unit(tariff.currency)
    sums = {category: [_ZERO, _ZERO] for category in CostCategory}
    for line in flat:
        sums[line.category][0] += line.excl_vat
        sums[line.category][1] += line.incl_vat
    # The rounding rule (pricing/rounding.py): components rounded, the total their sum.
    excl_parts, payable_excl = payable((excl for excl, _ in sums.values()), decimals)
    incl_parts, payable_incl = payable((incl for _, incl in sums.values()), decimals)
    components = {
        category: CostTotal(
            exact=Money(fraction_to_decimal(excl), fraction_to_decimal(incl)),
            rounded=Money(rounded_excl, rounded_incl),
        )
        for (category, (excl, incl)), rounded_excl, rounded_incl in zip(
            sums.items(), excl_parts, incl_parts, strict=True
        )
    }
    # The exact total is the tariff's own arithmetic, for the explanation; the payable one
    # bounds the sum of the payable components, so min_price and max_price are judged on
    # what the driver is billed.
    raw_excl = sum((excl for excl, _ in sums.values()), _ZERO)
    raw_incl = sum((incl for _, incl in sums.values()), _ZERO)
    exact_excl, exact_incl, _applied = _limit(tariff, raw_excl, raw_incl)
    excl, incl, limits = _limit(tariff, Fraction(payable_excl), Fraction(payable_incl))
    total_cost = CostTotal(
        exact=Money(fraction_to_decimal(exact_excl), fraction_to_decimal(exact_incl)),
        rounded=Money(round_half_up(excl, decimals), round_half_up(incl, decimals)),
    )

    span = _seconds(periods[-1].end - periods[0].start)
    parking = sum((Fraction(p.parking_s) for p in periods), _ZERO)
    return CostBreakdown(
        tariff_id=tariff.id,
        currency=tariff.currency,
        time_zone=zone.key,
        decimals=decimals,
        total_cost=total_cost,
        total_fixed_cost=components[CostCategory.FIXED],
        total_energy_cost=components[CostCategory.ENERGY],
        total_time_cost=components[CostCategory.TIME],
        total_parking_cost=components[CostCategory.PARKING],
        total_reservation_cost=components[CostCategory.RESERVATION],
        total_energy=sum((p.energy_kwh for p in periods if not p.is_reservation), Decimal(0)),
        total_time=fraction_to_decimal(span / _SECONDS_PER_HOUR),
        total_parking_time=fraction_to_decimal(parking / _SECONDS_PER_HOUR),
        periods=tuple(
            PeriodCost(
                period_index=piece.period_index,
                start=piece.start,
                end=piece.end,
                local_start=piece.ctx.local,
                charges=tuple(_public(line) for line in group),
                unpriced=tuple(notes_),
            )
            for piece, group, notes_ in zip(pieces, lines, unpriced, strict=True)
        ),
        price_limits=tuple(limits),
        notes=tuple(notes),
    )


def _public(line: _Line) -> ComponentCharge:
    time_based = line.dimension in _TIME_BASED
    unit_size = _SECONDS_PER_HOUR if time_based else Fraction(1)
    return ComponentCharge(
        dimension=line.dimension,
        category=line.category,
        element_index=line.element_index,
        price=line.component.price,
        vat=line.component.vat,
        step_size=line.component.step_size,
        unit="h" if time_based else ("kWh" if line.dimension is Dim.ENERGY else "session"),
        volume=fraction_to_decimal(line.volume / unit_size),
        billed_volume=fraction_to_decimal((line.volume + line.extra) / unit_size),
        excl_vat=fraction_to_decimal(line.excl_vat),
        incl_vat=fraction_to_decimal(line.incl_vat),
        restrictions=line.checks,
        skipped=line.skipped,
        step_note=line.step_note,
    )

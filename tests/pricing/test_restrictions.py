"""Restriction semantics that the spec states in prose, checked at their edges."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from cpo_backend.pricing import TariffRestrictions, price_session
from cpo_backend.pricing.restrictions import (
    RestrictionContext,
    check_restrictions,
    wall_clock_boundaries,
)
from tests.pricing.helpers import BERLIN, charging, element, local, parking, pc, session, tariff


def _holds(restrictions: Mapping[str, object], when: datetime, **observed: Fraction | None) -> bool:
    ctx = RestrictionContext(
        local=when,
        energy_kwh=observed.get("kwh") or Fraction(0),
        elapsed_s=observed.get("elapsed") or Fraction(0),
        power_kw=observed.get("power"),
        current_a=observed.get("current"),
    )
    checks = check_restrictions(TariffRestrictions.model_validate(restrictions), ctx)
    return all(c.held for c in checks)


@pytest.mark.parametrize(
    ("window", "clock", "held"),
    [
        (("22:00", "06:00"), "23:59", True),  # wraps over midnight
        (("22:00", "06:00"), "05:59", True),
        (("22:00", "06:00"), "06:00", False),  # end is exclusive
        (("22:00", "06:00"), "12:00", False),
        (("20:00", "00:00"), "23:59", True),  # 00:00 as end means end of day
        (("20:00", "00:00"), "00:00", False),
        (("09:00", "18:00"), "09:00", True),  # start is inclusive
        (("10:00", "10:00"), "03:00", True),  # equal start and end: the whole day
    ],
)
def test_time_of_day_windows(window: tuple[str, str], clock: str, held: bool) -> None:
    restrictions = {"start_time": window[0], "end_time": window[1]}
    assert _holds(restrictions, local(f"2024-06-04 {clock}")) is held


def test_dates_weekdays_and_thresholds() -> None:
    when = local("2024-06-08 12:00")  # a Saturday
    assert _holds({"start_date": "2024-06-08", "end_date": "2024-06-09"}, when)
    assert not _holds({"end_date": "2024-06-08"}, when)  # end_date is exclusive
    assert _holds({"day_of_week": ["SATURDAY"]}, when)
    assert not _holds({"day_of_week": ["FRIDAY"]}, when + timedelta(hours=13))  # Sunday 01:00
    assert _holds({"min_kwh": 20}, when, kwh=Fraction(20))
    assert not _holds({"max_kwh": 20}, when, kwh=Fraction(20))
    assert _holds({"min_duration": 1800, "max_duration": 3600}, when, elapsed=Fraction(1800))
    assert not _holds({"min_power": 11}, when, power=None)  # unknown power never qualifies
    assert _holds({"min_current": 32}, when, current=Fraction(32))


def test_wall_clock_boundaries_follow_dst() -> None:
    r = TariffRestrictions.model_validate({"start_time": "02:30", "end_time": "17:00"})
    start = local("2024-10-26 12:00")
    cuts = wall_clock_boundaries([r], start, start + timedelta(days=1), BERLIN)
    local_cuts = [c.astimezone(BERLIN).strftime("%d %H:%M %Z") for c in cuts]
    # 17:00, midnight, and 02:30 twice: the clock runs through 02:30 CEST and 02:30 CET.
    assert local_cuts == ["26 17:00 CEST", "27 00:00 CEST", "27 02:30 CEST", "27 02:30 CET"]


def test_period_over_a_time_boundary_is_split_and_interpolated() -> None:
    # One CDR period from 16:30 to 17:30 with 10 kWh: 5 kWh fall before 17:00 and 5 after.
    t = tariff(element(pc("ENERGY", "0.20"), end_time="17:00"), element(pc("ENERGY", "0.30")))
    result = price_session(t, session(local("2024-06-04 16:30"), charging(60, "10")), BERLIN)
    assert result.total_energy_cost.exact.excl_vat == Decimal("2.50")
    assert [p.charges[0].element_index for p in result.periods] == [0, 1]


def test_kwh_threshold_inside_a_period() -> None:
    t = tariff(element(pc("ENERGY", "0.40"), max_kwh=Decimal(4)), element(pc("ENERGY", "0.20")))
    result = price_session(t, session(local("2024-06-04 10:00"), charging(60, "10")), BERLIN)
    assert result.total_energy_cost.exact.excl_vat == Decimal("2.80")  # 4 * 0.40 + 6 * 0.20


def test_explanation_names_skipped_elements() -> None:
    t = tariff(
        element(pc("PARKING_TIME", "6.00"), day_of_week=["SATURDAY"]),
        element(pc("PARKING_TIME", "5.00")),
    )
    result = price_session(t, session(local("2024-06-04 10:00"), parking(30)), BERLIN)
    (charge,) = result.periods[0].charges
    assert charge.element_index == 1
    (skipped,) = charge.skipped
    assert skipped.element_index == 0
    assert [(c.restriction, c.observed) for c in skipped.failed] == [("day_of_week", "TUESDAY")]

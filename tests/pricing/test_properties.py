"""Properties of the engine that hold for every tariff of a family, checked with hypothesis.

The spec's step_size rule rounds the session total of a dimension and bills the extra at the
price of the *last* charge. Where a dimension has several prices, more volume at a cheaper
price shrinks an extra billed at a dearer one, and the session can cost a fraction less (see
test_running_on_into_a_cheaper_element_can_cost_less). Monotonicity is therefore a theorem,
and checked, for tariffs in which each rounded dimension has one price: ENERGY either varies
by time of day without step_size or has one price with any step_size, and TIME and
PARKING_TIME have one price each with any step_size.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cpo_backend.pricing import ChargingPeriod, price_session
from tests.pricing.helpers import (
    BERLIN,
    Json,
    charging,
    element,
    local,
    parking,
    pc,
    session,
    tariff,
)

prices = st.decimals(min_value=0, max_value=5, places=2).map(str)
hhmm = st.sampled_from(["00:00", "06:00", "09:30", "12:00", "17:00", "22:00"])
steps = st.sampled_from([0, 1, 60, 300, 900])


@st.composite
def energy_elements(draw: st.DrawFn) -> list[Json]:
    """ENERGY and FLAT elements under time-of-day and weekday restrictions, plus a fallback."""
    one_price = draw(st.one_of(st.none(), prices))
    energy_price = st.just(one_price) if one_price is not None else prices
    energy_step = steps if one_price is not None else st.just(0)
    elements = []
    for _ in range(draw(st.integers(0, 3))):
        restrictions: dict[str, Any] = {"start_time": draw(hhmm), "end_time": draw(hhmm)}
        if draw(st.booleans()):
            restrictions["day_of_week"] = draw(
                st.lists(st.sampled_from(["MONDAY", "SATURDAY", "SUNDAY"]), min_size=1, unique=True)
            )
        components = [pc("ENERGY", draw(energy_price), "19.0", draw(energy_step))]
        if draw(st.booleans()):
            components.append(pc("FLAT", draw(prices), "19.0"))
        elements.append(element(*components, **restrictions))
    elements.append(element(pc("ENERGY", draw(energy_price), "19.0", draw(energy_step))))
    return elements


@st.composite
def tariffs(draw: st.DrawFn) -> Json:
    time_based = element(
        pc("TIME", draw(prices), "7.0", draw(steps)),
        pc("PARKING_TIME", draw(prices), "19.0", draw(steps)),
    )
    extra: Json = {}
    if draw(st.booleans()):
        extra["min_price"] = {"excl_vat": Decimal(draw(prices)), "incl_vat": Decimal(draw(prices))}
    return tariff(*draw(energy_elements()), time_based, **extra)


@st.composite
def sessions(draw: st.DrawFn) -> list[ChargingPeriod]:
    start = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 60 * 24 * 60)))
    spans = [
        charging(draw(st.integers(1, 240)), str(draw(st.decimals(0, 50, places=3))))
        if draw(st.booleans())
        else parking(draw(st.integers(1, 120)))
        for _ in range(draw(st.integers(1, 5)))
    ]
    return session(start, *spans)


def _total(t: Json, periods: list[ChargingPeriod]) -> Decimal:
    return price_session(t, periods, BERLIN).total_cost.exact.incl_vat


@settings(max_examples=60, deadline=None)
@given(tariffs(), sessions(), st.data())
def test_cost_never_decreases_when_energy_grows(
    t: Json, periods: list[ChargingPeriod], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(periods) - 1))
    more = data.draw(st.decimals(0, 20, places=3))
    grown = list(periods)
    grown[index] = replace(periods[index], energy_kwh=periods[index].energy_kwh + more)
    assert _total(t, grown) >= _total(t, periods)
    # The payable total (rounded components summed) is a Session's running total_cost:
    # it never goes back as the session goes on either.
    before = price_session(t, periods, BERLIN).total_cost.rounded
    after = price_session(t, grown, BERLIN).total_cost.rounded
    assert after.excl_vat >= before.excl_vat
    assert after.incl_vat >= before.incl_vat


@settings(max_examples=60, deadline=None)
@given(tariffs(), sessions(), st.integers(1, 3600))
def test_cost_never_decreases_when_time_grows(
    t: Json, periods: list[ChargingPeriod], seconds: int
) -> None:
    # More time, and nothing else moved: a period of the same kind after the last one.
    # (Stretching the last period instead would re-spread its energy over the longer span
    # and could shift some of it into a cheaper time-of-day element: less energy at the
    # dearer rate, which is not "more time".)
    last = periods[-1]
    extra = timedelta(seconds=seconds)
    grown = [
        *periods,
        replace(
            last,
            start=last.end,
            end=last.end + extra,
            energy_kwh=Decimal(0),
            charging_s=Decimal(seconds) if last.charging_s else Decimal(0),
            parking_s=Decimal(0) if last.charging_s else Decimal(seconds),
        ),
    ]
    assert _total(t, grown) >= _total(t, periods)


def _without_steps(t: Json) -> Json:
    return {
        **t,
        "elements": [
            {**e, "price_components": [{**c, "step_size": 0} for c in e["price_components"]]}
            for e in t["elements"]
        ],
    }


@settings(max_examples=60, deadline=None)
@given(tariffs(), sessions())
def test_step_size_never_lowers_a_total(t: Json, periods: list[ChargingPeriod]) -> None:
    with_steps = price_session(t, periods, BERLIN)
    without = price_session(_without_steps(t), periods, BERLIN)
    for name in ("total_cost", "total_energy_cost", "total_time_cost", "total_parking_cost"):
        assert getattr(with_steps, name).exact.excl_vat >= getattr(without, name).exact.excl_vat


def _split(period: ChargingPeriod, share: Decimal) -> list[ChargingPeriod]:
    span = period.end - period.start
    cut = period.start + span * float(share)
    exact_share = Decimal((cut - period.start) // timedelta(microseconds=1)) / Decimal(
        span // timedelta(microseconds=1)
    )

    def part(start: datetime, end: datetime, f: Decimal) -> ChargingPeriod:
        return replace(
            period,
            start=start,
            end=end,
            energy_kwh=period.energy_kwh * f,
            charging_s=period.charging_s * f,
            parking_s=period.parking_s * f,
        )

    return [part(period.start, cut, exact_share), part(cut, period.end, 1 - exact_share)]


@settings(max_examples=80, deadline=None)
@given(tariffs(), sessions(), st.data())
def test_splitting_a_period_does_not_change_the_cost(
    t: Json, periods: list[ChargingPeriod], data: st.DataObject
) -> None:
    t = _without_steps(t)
    t["elements"].insert(0, element(pc("ENERGY", "0.11"), min_kwh=Decimal(7), max_duration=5400))
    index = data.draw(st.integers(0, len(periods) - 1))
    share = data.draw(st.decimals(Decimal("0.01"), Decimal("0.99"), places=4))
    split = [*periods[:index], *_split(periods[index], share), *periods[index + 1 :]]
    difference = abs(_total(t, split) - _total(t, periods))
    assert difference < Decimal("1e-20")  # equal up to the 28 digits a Decimal input carries


def test_running_on_into_a_cheaper_element_can_cost_less() -> None:
    # A consequence of mod_cdrs "step_size", not of this engine: 59 minutes at € 1/h with a
    # step of an hour bill 60 minutes at € 1/h; charging on for 30 s into a € 0.50/h element
    # moves the rounding extra to the cheaper price.
    t = tariff(
        element(pc("TIME", "1.00", None, 3600), end_time="17:00"),
        element(pc("TIME", "0.50", None, 3600)),
    )
    stopped = price_session(t, session(local("2024-06-04 16:01"), charging(59)), BERLIN)
    ran_on = price_session(t, session(local("2024-06-04 16:01"), charging(59.5)), BERLIN)
    assert stopped.total_cost.exact.excl_vat == Decimal("1.00")
    assert ran_on.total_cost.exact.excl_vat < stopped.total_cost.exact.excl_vat

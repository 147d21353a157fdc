"""The rounding rule (pricing/rounding.py): every cost component is rounded half-up to the
currency's minor unit, once, from its exact value, and the payable total is their sum
(within min_price / max_price), excl. and incl. VAT alike.

An eMSP reconciling a CDR line by line, or a driver checking a bill against the prices
shown, then finds the lines adding up to the total to the cent.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cpo_backend.pricing import (
    ChargingPeriod,
    CostBreakdown,
    CostTotal,
    Money,
    minor_unit,
    payable,
    price_session,
    round_half_up,
)
from tests.pricing.helpers import (
    BERLIN,
    COMPONENTS,
    Json,
    amounts,
    charging,
    element,
    parking,
    pc,
    reserved,
    session,
    tariff,
)

START = datetime(2024, 6, 4, 8, 0, tzinfo=UTC)


def _components(result: CostBreakdown) -> list[CostTotal]:
    return [getattr(result, name) for name in COMPONENTS]


def test_the_lines_of_the_issue_add_up_to_the_total() -> None:
    # Exactly 0.084 + 0.424 + 0.254 = 0.762: the lines read 0.08 + 0.42 + 0.25, and the
    # total is their sum, 0.75, where rounding the exact total once gave 0.76.
    t = tariff(element(pc("FLAT", "0.084"), pc("ENERGY", "0.212"), pc("TIME", "1.524")))
    result = price_session(t, session(START, charging(10, "2")), "UTC")
    assert amounts(result.total_fixed_cost) == ("0.08", "0.08")
    assert amounts(result.total_energy_cost) == ("0.42", "0.42")
    assert amounts(result.total_time_cost) == ("0.25", "0.25")
    assert amounts(result.total_cost) == ("0.75", "0.75")
    assert result.total_cost.exact.excl_vat == Decimal("0.762")
    totals = result.ocpi_totals()
    assert totals["total_cost"] == {"excl_vat": 0.75, "incl_vat": 0.75}
    assert result.to_json()["breakdown"]["exact"]["total_cost"]["excl_vat"] == 0.762


def test_incl_vat_follows_the_same_rule() -> None:
    # Start fee 2.50 at 15% (2.875 incl.), parking 3.75 at 10% (4.125 incl.): 2.88 + 4.13.
    t = tariff(element(pc("FLAT", "2.50", "15.0"), pc("PARKING_TIME", "5.00", "10.0")))
    result = price_session(t, session(START, charging(1), parking(45)), "UTC")
    assert amounts(result.total_fixed_cost) == ("2.50", "2.88")
    assert amounts(result.total_parking_cost) == ("3.75", "4.13")
    assert amounts(result.total_cost) == ("6.25", "7.01")


def test_the_minor_unit_is_the_currency_s() -> None:
    # JPY has no decimals, KWD three: 12.5 + 12.5 yen are 13 + 13 = 26, not 25.
    yen = tariff(element(pc("FLAT", "12.5"), pc("ENERGY", "12.5")), currency="JPY")
    assert amounts(price_session(yen, session(START, charging(10, "1")), "UTC").total_cost) == (
        "26",
        "26",
    )
    dinar = tariff(element(pc("FLAT", "0.0125"), pc("ENERGY", "0.0125")), currency="KWD")
    result = price_session(dinar, session(START, charging(10, "1")), "UTC")
    assert amounts(result.total_cost) == ("0.026", "0.026")


def test_price_limits_bound_the_sum_of_the_lines() -> None:
    # 1 kWh at 0.2449: the line is 0.24; min_price 0.245 is judged on what is billed (0.24)
    # and is itself payable as 0.25.
    t = tariff(element(pc("ENERGY", "0.2449")), min_price={"excl_vat": Decimal("0.245")})
    result = price_session(t, session(START, charging(10, "1")), "UTC")
    assert amounts(result.total_energy_cost)[0] == "0.24"
    assert amounts(result.total_cost)[0] == "0.25"
    assert [(p.limit, p.basis, p.before, p.after) for p in result.price_limits] == [
        ("min_price", "excl_vat", Decimal("0.24"), Decimal("0.245")),
        ("min_price", "incl_vat", Decimal("0.24"), Decimal("0.245")),
    ]


def test_payable_is_the_rule_on_its_own() -> None:
    parts, total = payable([Fraction(84, 1000), Fraction(424, 1000), Fraction(254, 1000)], 2)
    assert parts == [Decimal("0.08"), Decimal("0.42"), Decimal("0.25")]
    assert total == Decimal("0.75")
    assert payable([], 2) == ([], Decimal("0.00"))
    # Half away from zero on both sides (V2G sessions may price negative energy).
    assert payable([Fraction(-5, 1000), Fraction(5, 1000)], 2)[0] == [
        Decimal("-0.01"),
        Decimal("0.01"),
    ]


# -- the rule for any tariff and session ------------------------------------------------

# Prices with sub-cent digits, so that components land between cents.
sub_cent = st.decimals(min_value=0, max_value=3, places=4).map(str)
vats = st.one_of(st.none(), st.sampled_from(["0.0", "5.2", "10.0", "19.0", "21.0"]))
steps = st.sampled_from([0, 1, 60, 300, 900])
currencies = st.sampled_from(["EUR", "JPY", "KWD"])


@st.composite
def any_tariff(draw: st.DrawFn) -> Json:
    """Every dimension, restrictions that switch, reservation elements and price limits."""
    elements: list[Json] = []
    if draw(st.booleans()):
        components = [pc("TIME", draw(sub_cent), draw(vats), draw(steps))]
        if draw(st.booleans()):
            components.append(pc("FLAT", draw(sub_cent), draw(vats)))
        elements.append(element(*components, reservation="RESERVATION"))
    if draw(st.booleans()):
        elements.append(
            element(
                pc("ENERGY", draw(sub_cent), draw(vats), draw(steps)),
                start_time=draw(st.sampled_from(["06:00", "09:30", "17:00"])),
                end_time=draw(st.sampled_from(["12:00", "22:00"])),
            )
        )
    components = [
        pc("FLAT", draw(sub_cent), draw(vats)),
        pc("ENERGY", draw(sub_cent), draw(vats), draw(steps)),
        pc("TIME", draw(sub_cent), draw(vats), draw(steps)),
        pc("PARKING_TIME", draw(sub_cent), draw(vats), draw(steps)),
    ]
    kept = draw(st.lists(st.sampled_from(components), min_size=1, max_size=4, unique_by=id))
    elements.append(element(*kept))
    limits: dict[str, Any] = {}
    for name in ("min_price", "max_price"):
        if draw(st.booleans()):
            limit = {"excl_vat": Decimal(draw(sub_cent))}
            if draw(st.booleans()):
                limit["incl_vat"] = Decimal(draw(sub_cent))
            limits[name] = limit
    return tariff(*elements, currency=draw(currencies), **limits)


@st.composite
def any_session(draw: st.DrawFn) -> list[ChargingPeriod]:
    start = START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 14)))
    spans = [reserved(draw(st.integers(1, 90)))] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            spans.append(
                charging(draw(st.integers(1, 300)), str(draw(st.decimals(0, 80, places=3))))
            )
        else:
            spans.append(parking(draw(st.integers(1, 120))))
    return session(start, *spans)


def _bounded(t: Json, excl: Decimal, incl: Decimal) -> tuple[Decimal, Decimal]:
    """The sum of the lines within the tariff's limits, as docs/pricing.md states it."""
    checks: tuple[tuple[str, Callable[[Decimal, Decimal], bool]], ...] = (
        ("min_price", operator.lt),
        ("max_price", operator.gt),
    )
    for name, outside in checks:
        limit = t.get(name)
        if limit is None:
            continue
        new_excl = limit["excl_vat"] if outside(excl, limit["excl_vat"]) else excl
        if "incl_vat" in limit:
            new_incl = limit["incl_vat"] if outside(incl, limit["incl_vat"]) else incl
        elif new_excl != excl:
            new_incl = new_excl * incl / excl if excl else new_excl
        else:
            new_incl = incl
        excl, incl = new_excl, new_incl
    return excl, incl


@settings(max_examples=150, deadline=None)
@given(any_tariff(), any_session())
def test_components_add_up_to_the_total(t: Json, periods: list[ChargingPeriod]) -> None:
    result = price_session(t, periods, BERLIN)
    decimals = minor_unit(t["currency"])
    lines = _components(result)
    for line in lines:
        for exact, rounded in (
            (line.exact.excl_vat, line.rounded.excl_vat),
            (line.exact.incl_vat, line.rounded.incl_vat),
        ):
            # Each line is its own exact amount, rounded half-up once.
            assert rounded == round_half_up(Fraction(exact), decimals)
        assert line.rounded.incl_vat >= line.rounded.excl_vat
    excl = sum((line.rounded.excl_vat for line in lines), Decimal(0))
    incl = sum((line.rounded.incl_vat for line in lines), Decimal(0))
    want_excl, want_incl = _bounded(t, excl, incl)
    unit = Decimal(1).scaleb(-decimals)
    assert result.total_cost.rounded.excl_vat == want_excl.quantize(unit, ROUND_HALF_UP)
    assert abs(result.total_cost.rounded.incl_vat - want_incl) <= unit / 2
    if "min_price" not in t and "max_price" not in t:
        assert result.total_cost.rounded == Money(excl, incl)
        # The sum of five lines is within 2.5 minor units of the exact total.
        assert abs(result.total_cost.rounded.excl_vat - result.total_cost.exact.excl_vat) <= (
            unit * 5 / 2
        )
        # What goes on the wire adds up too.
        totals = result.ocpi_totals()
        for basis in ("excl_vat", "incl_vat"):
            wire = sum(Decimal(str(totals[name][basis])) for name in COMPONENTS)
            assert Decimal(str(totals["total_cost"][basis])) == wire

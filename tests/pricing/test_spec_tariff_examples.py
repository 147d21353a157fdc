"""Golden tests: every worked example of OCPI 2.2.1 mod_tariffs (release-2.2.1-bugfixes).

Each test names the example's heading. The tariffs are transcribed from the example JSON
files the chapter includes (examples/tariff_*.json); the sessions follow the prose.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from cpo_backend.pricing import CostBreakdown, price_session
from tests.pricing.helpers import (
    BERLIN,
    Json,
    Span,
    amounts,
    charging,
    element,
    exact,
    local,
    parking,
    pc,
    reserved,
    session,
    tariff,
)

START = datetime(2019, 3, 4, 10, 0, tzinfo=UTC)  # inside every example tariff's validity window

ENERGY_025 = pc("ENERGY", "0.25", "10.0")
START_FEE = pc("FLAT", "0.50", "20.0")


def _price(t: Json, *spans: Span) -> CostBreakdown:
    return price_session(t, session(START, *spans), "UTC")


def test_simple_025_per_kwh() -> None:
    # "Simple Tariff example € 0.25 per kWh": 20 kWh cost € 5.00 excl. / € 5.50 incl. VAT.
    result = _price(tariff(element(ENERGY_025)), charging(60, "20"))
    assert amounts(result.total_cost) == ("5.00", "5.50")
    assert amounts(result.total_energy_cost) == ("5.00", "5.50")


def test_025_per_kwh_plus_start_fee() -> None:
    # "Tariff example € 0.25 per kWh + start fee": 20 kWh cost € 5.50 / € 6.10.
    result = _price(tariff(element(START_FEE, ENERGY_025)), charging(60, "20"))
    assert amounts(result.total_cost) == ("5.50", "6.10")
    assert amounts(result.total_fixed_cost) == ("0.50", "0.60")


def test_025_per_kwh_plus_minimum_price() -> None:
    # "Tariff example € 0.25 per kWh + minimum price": 20 kWh cost € 5.00 / € 5.50, but below
    # 2 kWh the min_price of € 0.50 / € 0.55 is billed.
    t = tariff(
        element(ENERGY_025), min_price={"excl_vat": Decimal("0.50"), "incl_vat": Decimal("0.55")}
    )
    assert amounts(_price(t, charging(60, "20")).total_cost) == ("5.00", "5.50")
    small = _price(t, charging(10, "1"))
    assert amounts(small.total_cost) == ("0.50", "0.55")
    assert [(p.limit, p.basis) for p in small.price_limits] == [
        ("min_price", "excl_vat"),
        ("min_price", "incl_vat"),
    ]


def test_025_per_kwh_parking_and_start_fee() -> None:
    # "Tariff example € 0.25 per kWh + parking fee + start fee": 20 kWh and 40 minutes of
    # parking, billed per 15 minutes as 45 minutes: € 7.00 / € 7.90.
    t = tariff(element(START_FEE, ENERGY_025, pc("PARKING_TIME", "2.00", "20.0", 900)))
    result = _price(t, charging(60, "20"), parking(40))
    assert amounts(result.total_cost) == ("7.00", "7.90")
    assert amounts(result.total_parking_cost) == ("1.50", "1.80")
    (charge,) = result.periods[-1].charges
    assert charge.billed_volume == Decimal("0.75")  # 45 minutes


def test_025_per_kwh_start_fee_max_price() -> None:
    # "Tariff example € 0.25 per kWh + start fee + max price + tariff end date":
    # 50 kWh are capped at € 10.00 / € 11.00, 30 kWh cost € 8.00 / € 8.85.
    t = tariff(
        element(START_FEE, ENERGY_025),
        max_price={"excl_vat": Decimal("10.00"), "incl_vat": Decimal("11.00")},
        end_date_time="2019-06-30T23:59:59Z",
    )
    capped = _price(t, charging(120, "50"))
    assert amounts(capped.total_cost) == ("10.00", "11.00")
    assert amounts(capped.total_energy_cost) == ("12.50", "13.75")  # before the cap, as charged
    assert {p.limit for p in capped.price_limits} == {"max_price"}
    assert amounts(_price(t, charging(90, "30")).total_cost) == ("8.00", "8.85")
    assert capped.notes == ()  # the session lies before the tariff's end date


def test_simple_2_euro_per_hour() -> None:
    # "Simple Tariff example € 2 per hour": 2.5 hours of charging cost € 5.00 / € 5.50.
    t = tariff(element(pc("TIME", "2.00", "10.0", 60)))
    assert amounts(_price(t, charging(150, "30")).total_cost) == ("5.00", "5.50")


def test_simple_3_euro_per_hour_5_euro_parking() -> None:
    # "Simple Tariff example € 3 per hour, € 5 per hour parking": 150 minutes charging and
    # 42 minutes parking (billed as 45) cost € 11.25 / € 12.75.
    t = tariff(element(pc("TIME", "3.00", "10.0", 60), pc("PARKING_TIME", "5.00", "20.0", 300)))
    result = _price(t, charging(150, "30"), parking(42))
    assert amounts(result.total_cost) == ("11.25", "12.75")
    assert amounts(result.total_time_cost) == ("7.50", "8.25")
    assert amounts(result.total_parking_cost) == ("3.75", "4.50")


def test_ad_hoc_simple_multiple_languages() -> None:
    # "Ad-Hoc simple Tariff example with multiple languages": 2.5 hours at € 1.90 excl.,
    # 5.2% VAT, cost € 4.75 excl. and € 5.00 incl. VAT (exactly 4.997, rounded for payment).
    t = tariff(element(pc("TIME", "1.90", "5.2", 300)), type="AD_HOC_PAYMENT")
    result = _price(t, charging(150))
    assert amounts(result.total_cost) == ("4.75", "5.00")
    assert exact(result.total_cost) == (Decimal("4.75"), Decimal("4.997"))


def test_alternative_url_profile_cheap() -> None:
    # "Simple Tariff example with alternative URL": 20.45 kWh billed per 100 Wh as 20.5 kWh.
    # Start fee € 0.50 / € 0.60, energy € 5.13 / € 5.64, total € 5.63 / € 6.24. The exact
    # total 5.625 shows that the spec rounds half up (banker's rounding would give 5.62).
    t = tariff(element(START_FEE, pc("ENERGY", "0.25", "10.0", 100)), type="PROFILE_CHEAP")
    result = _price(t, charging(60, "20.45"))
    assert amounts(result.total_energy_cost) == ("5.13", "5.64")
    assert amounts(result.total_cost) == ("5.63", "6.24")
    assert exact(result.total_cost) == (Decimal("5.625"), Decimal("6.2375"))
    # The same session at the real-time price of € 0.22 / kWh: € 4.51 / € 4.96 for energy,
    # € 5.01 / € 5.56 in total.
    cheap = tariff(element(START_FEE, pc("ENERGY", "0.22", "10.0", 100)))
    result = _price(cheap, charging(60, "20.45"))
    assert amounts(result.total_energy_cost) == ("4.51", "4.96")
    assert amounts(result.total_cost) == ("5.01", "5.56")


COMPLEX = tariff(
    element(pc("FLAT", "2.50", "15.0")),
    element(pc("TIME", "1.00", "20.0", 900), max_current=Decimal("32.00")),
    element(
        pc("TIME", "2.00", "20.0", 600),
        min_current=Decimal("32.00"),
        day_of_week=["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
    ),
    element(
        pc("TIME", "1.25", "20.0", 600),
        min_current=Decimal("32.00"),
        day_of_week=["SATURDAY", "SUNDAY"],
    ),
    element(
        pc("PARKING_TIME", "5.00", "10.0", 300),
        start_time="09:00",
        end_time="18:00",
        day_of_week=["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
    ),
    element(
        pc("PARKING_TIME", "6.00", "10.0", 300),
        start_time="10:00",
        end_time="17:00",
        day_of_week=["SATURDAY"],
    ),
    type="REGULAR",
    tariff_alt_url="https://company.com/tariffs/14",
)


def test_complex_monday_morning() -> None:
    # "Complex Tariff example", first session: Monday 09:30, 165 minutes charging at 16 A at
    # most, 42 minutes parking (billed as 45): € 9.00 / € 10.30. Charging time is not rounded
    # because parking follows it. The spec's € 10.30 is the exact total rounded once; the
    # payable total is the sum of the payable components (pricing/rounding.py), 2.88 + 3.30
    # + 4.13 = € 10.31 incl. VAT, so that the CDR's lines add up to it.
    periods = session(local("2024-06-03 09:30"), charging(165, "20", current_a="16"), parking(42))
    result = price_session(COMPLEX, periods, BERLIN)
    assert exact(result.total_cost) == (Decimal("9.00"), Decimal("10.30"))
    assert amounts(result.total_cost) == ("9.00", "10.31")
    assert exact(result.total_fixed_cost) == (Decimal("2.50"), Decimal("2.875"))
    assert exact(result.total_time_cost) == (Decimal("2.75"), Decimal("3.30"))
    assert exact(result.total_parking_cost) == (Decimal("3.75"), Decimal("4.125"))
    time_elements = {
        c.element_index for p in result.periods for c in p.charges if c.dimension == "TIME"
    }
    assert time_elements == {1}


def test_complex_saturday_afternoon_corrects_spec_arithmetic() -> None:
    # "Complex Tariff example", second session: Saturday 13:30, 114 minutes at 43 A or more,
    # 71 minutes parking (billed as 75). SPEC ERROR: the spec's table prices 114 minutes at
    # 1.25/h as 2.28 (that is 1.20/h) and so totals € 12.28 / € 13.861. The right figures are
    # 114/60 * 1.25 = 2.375 (2.85 incl.) and a total of € 12.375 / € 13.975.
    periods = session(local("2024-06-08 13:30"), charging(114, "60", current_a="43"), parking(71))
    result = price_session(COMPLEX, periods, BERLIN)
    assert exact(result.total_time_cost) == (Decimal("2.375"), Decimal("2.85"))
    assert exact(result.total_parking_cost) == (Decimal("7.50"), Decimal("8.25"))
    assert exact(result.total_cost) == (Decimal("12.375"), Decimal("13.975"))
    assert amounts(result.total_cost) == ("12.38", "13.98")


def test_free_of_charge() -> None:
    # "Free of Charge Tariff example": one FLAT of 0.00 with step_size 0 and no VAT.
    t = tariff(element(pc("FLAT", "0.00", None, 0)))
    result = _price(t, charging(60, "20"), parking(30))
    assert amounts(result.total_cost) == ("0.00", "0.00")


RESERVATION_15 = tariff(
    element(pc("TIME", "5.00", "20.0", 60), reservation="RESERVATION"),
    element(START_FEE, ENERGY_025),
)


def test_reservation_price() -> None:
    # "Tariff example with reservation price": session started 15 minutes after the
    # reservation, 20 kWh: € 6.75 / € 7.60, of which reservation € 1.25 / € 1.50.
    result = _price(RESERVATION_15, reserved(15), charging(60, "20"))
    assert amounts(result.total_cost) == ("6.75", "7.60")
    assert amounts(result.total_reservation_cost) == ("1.25", "1.50")


def test_reservation_price_and_fee() -> None:
    # "Tariff example with reservation price and fee": 13 minutes of reservation billed per
    # 5 minutes as 15, a € 2.00 reservation fee, then 20 kWh: € 8.75 / € 10.00.
    # (The spec's breakdown labels the reservation time "Parking time"; it is reservation time.)
    t = tariff(
        element(
            pc("FLAT", "2.00", "20.0"), pc("TIME", "5.00", "20.0", 300), reservation="RESERVATION"
        ),
        element(START_FEE, ENERGY_025),
    )
    result = _price(t, reserved(13), charging(60, "20"))
    assert amounts(result.total_cost) == ("8.75", "10.00")
    assert amounts(result.total_reservation_cost) == ("3.25", "3.90")
    assert amounts(result.total_fixed_cost) == ("0.50", "0.60")


RESERVATION_17 = tariff(
    element(pc("FLAT", "4.00", "20.0"), reservation="RESERVATION_EXPIRES"),
    element(pc("TIME", "2.00", "20.0", 600), reservation="RESERVATION"),
    element(START_FEE, ENERGY_025),
)


def test_reservation_with_expire_fee_used() -> None:
    # "Tariff example with reservation price and expire fee": 22 minutes of reservation billed
    # per 10 minutes as 30, then 20 kWh: € 6.50 / € 7.30. No expiry fee.
    result = _price(RESERVATION_17, reserved(22), charging(60, "20"))
    assert amounts(result.total_cost) == ("6.50", "7.30")
    assert amounts(result.total_reservation_cost) == ("1.00", "1.20")


def test_reservation_with_expire_fee_expired() -> None:
    # Same example, reservation of 1 hour expired: € 4.00 fee + 60 minutes at € 2/h,
    # € 6.00 / € 7.20.
    result = _price(RESERVATION_17, reserved(60))
    assert amounts(result.total_cost) == ("6.00", "7.20")
    assert amounts(result.total_fixed_cost) == ("0.00", "0.00")


RESERVATION_18 = tariff(
    element(pc("TIME", "6.00", "20.0", 600), reservation="RESERVATION_EXPIRES"),
    element(pc("TIME", "3.00", "20.0", 600), reservation="RESERVATION"),
    element(START_FEE, ENERGY_025),
)


def test_reservation_with_expire_time_used() -> None:
    # "Tariff example with reservation time and expire time": 22 minutes (billed 30) at
    # € 3/h, then 20 kWh: € 7.00 / € 7.90.
    result = _price(RESERVATION_18, reserved(22), charging(60, "20"))
    assert amounts(result.total_cost) == ("7.00", "7.90")


def test_reservation_with_expire_time_expired() -> None:
    # Same example, a reservation of 1.5 hours expired: 90 minutes at € 6/h, € 9.00 / € 10.80.
    result = _price(RESERVATION_18, reserved(90))
    assert amounts(result.total_cost) == ("9.00", "10.80")


def test_expired_reservation_prefers_expires_element_wherever_it_stands() -> None:
    # ReservationRestrictionType NOTE: with both RESERVATION and RESERVATION_EXPIRES TIME
    # elements, an expired reservation's time is priced by the RESERVATION_EXPIRES one.
    t = tariff(*reversed(RESERVATION_18["elements"][:2]), RESERVATION_18["elements"][2])
    assert amounts(_price(t, reserved(90)).total_cost) == ("9.00", "10.80")


def test_max_power_restriction() -> None:
    # "Example: Tariff with max_power Tariff Restrictions": 1 kWh at 6 kW, 40 kWh at 48 kW,
    # 0.5 kWh at 4 kW: € 0.20 + € 20.00 + € 0.10 = € 20.30 excl. VAT.
    t = tariff(
        element(pc("ENERGY", "0.20", "20.0"), max_power=Decimal("16.00")),
        element(pc("ENERGY", "0.35", "20.0"), max_power=Decimal("32.00")),
        element(pc("ENERGY", "0.50", "20.0")),
    )
    result = _price(
        t,
        charging(10, "1", power_kw="6"),
        charging(50, "40", power_kw="48"),
        charging(7.5, "0.5", power_kw="4"),
    )
    assert exact(result.total_energy_cost) == (Decimal("20.30"), Decimal("24.36"))
    assert [p.charges[-1].element_index for p in result.periods] == [0, 2, 0]


def test_max_power_restriction_from_energy_alone() -> None:
    # Same example with CDR periods that carry only ENERGY and TIME: the average power is
    # energy / charging time, which places each period in the same element.
    t = tariff(
        element(pc("ENERGY", "0.20", "20.0"), max_power=Decimal("16.00")),
        element(pc("ENERGY", "0.35", "20.0"), max_power=Decimal("32.00")),
        element(pc("ENERGY", "0.50", "20.0")),
    )
    result = _price(t, charging(10, "1"), charging(50, "40"), charging(7.5, "0.5"))
    assert result.total_energy_cost.exact.excl_vat == Decimal("20.30")


def test_max_duration_restriction() -> None:
    # "Example: Tariff with max_duration Tariff Restrictions": 40 minutes, 5 kWh in the first
    # 30 (free) and 1.2 kWh in the last 10 (€ 0.25/kWh): € 0.30 excl. VAT.
    t = tariff(
        element(pc("ENERGY", "0.00", "20.0"), max_duration=1800),
        element(pc("ENERGY", "0.25", "20.0"), max_duration=3600),
        element(pc("ENERGY", "0.40", "20.0")),
    )
    result = _price(t, charging(30, "5"), charging(10, "1.2"))
    assert exact(result.total_cost) == (Decimal("0.30"), Decimal("0.36"))


def test_step_size_note_energy() -> None:
    # PriceComponent NOTE on step_size: 115.2 Wh at € 0.25/kWh are billed as 116 Wh
    # (€ 0.029), with step_size 25 as 125 Wh (€ 0.03125, "€ 0.031" in the spec, rounded), and
    # with step_size 500 as 500 Wh (€ 0.125).
    for step, billed in ((1, "0.029"), (25, "0.03125"), (500, "0.125")):
        result = _price(tariff(element(pc("ENERGY", "0.25", None, step))), charging(1, "0.1152"))
        assert result.total_cost.exact.excl_vat == Decimal(billed)


STEP_TARIFF = tariff(
    element(
        pc("TIME", "1.20", None, 1800),
        pc("PARKING_TIME", "1.00", None, 900),
        start_time="00:00",
        end_time="17:00",
    ),
    element(
        pc("TIME", "2.40", None, 900),
        pc("PARKING_TIME", "1.00", None, 900),
        start_time="17:00",
        end_time="20:00",
    ),
    element(pc("TIME", "2.40", None, 900), start_time="20:00", end_time="00:00"),
)


def test_step_size_switching_element_1() -> None:
    # "Example: switching to different Tariff Element #1": plug in 16:55, charge 10 minutes,
    # park 2 minutes (billed as 15): € 0.10 + € 0.20 + € 0.25 = € 0.55.
    periods = session(local("2024-06-04 16:55"), charging(10, "2"), parking(2))
    result = price_session(STEP_TARIFF, periods, BERLIN)
    assert exact(result.total_cost) == (Decimal("0.55"), Decimal("0.55"))
    assert exact(result.total_time_cost)[0] == Decimal("0.30")
    assert exact(result.total_parking_cost)[0] == Decimal("0.25")


def test_step_size_switching_element_2() -> None:
    # "Example: switching to different Tariff Element #2": plug in 16:35, charge 35 minutes;
    # rounded to 45 by the last element's 15 minutes, so 25 minutes at € 1.20/h and 20 at
    # € 2.40/h: € 1.30.
    periods = session(local("2024-06-04 16:35"), charging(35, "10"))
    result = price_session(STEP_TARIFF, periods, BERLIN)
    assert result.total_cost.exact.excl_vat == Decimal("1.30")
    last = result.periods[-1].charges[-1]
    assert last.billed_volume * 60 == Decimal(20)
    assert last.step_note is not None


def test_step_size_switching_to_free_of_charge_element() -> None:
    # "Example: switching to Free-of-Charge Tariff Element": plug in 19:40, charge 12 minutes,
    # park 20; only the 8 parking minutes before 20:00 are billable, rounded to 15:
    # € 0.48 + € 0.25 = € 0.73.
    periods = session(local("2024-06-04 19:40"), charging(12, "3"), parking(20))
    result = price_session(STEP_TARIFF, periods, BERLIN)
    assert result.total_cost.exact.excl_vat == Decimal("0.73")
    after_eight = result.periods[-1]
    assert after_eight.local_start.strftime("%H:%M") == "20:00"
    assert after_eight.charges == ()
    assert after_eight.unpriced  # explains that no PARKING_TIME element applies after 20:00

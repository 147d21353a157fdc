"""Golden tests: the worked examples of OCPI 2.2.1 mod_cdrs (release-2.2.1-bugfixes)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from cpo_backend.pricing import CostBreakdown, price_session
from tests.pricing.helpers import BERLIN, charging, element, local, parking, pc, session, tariff


def _billed_minutes(result: CostBreakdown, dimension: str) -> Decimal:
    return sum(
        (
            c.billed_volume * 60
            for p in result.periods
            for c in p.charges
            if c.dimension == dimension
        ),
        Decimal(0),
    )


def test_step_size_not_applied_when_charging_is_followed_by_parking() -> None:
    # mod_cdrs "step_size", first example: step_size 5 minutes for TIME and parking; 21 minutes
    # charging then 7 minutes parking bill 21 minutes of charging and 10 of parking.
    t = tariff(element(pc("TIME", "1.00", None, 300), pc("PARKING_TIME", "2.00", None, 300)))
    result = price_session(t, session(local("2024-06-04 10:00"), charging(21), parking(7)), BERLIN)
    assert _billed_minutes(result, "TIME") == 21
    assert _billed_minutes(result, "PARKING_TIME") == 10


def test_energy_step_size_uses_session_total() -> None:
    # mod_cdrs "step_size": € 0.20/kWh before 17:00, € 0.27 after, both step 500 Wh; 4.3 kWh
    # before and 1.1 kWh after are billed as 5.5 kWh in total, the extra 0.1 kWh after 17:00:
    # 4.3 * 0.20 + 1.2 * 0.27 = € 1.184.
    t = tariff(
        element(pc("ENERGY", "0.20", None, 500), end_time="17:00"),
        element(pc("ENERGY", "0.27", None, 500), start_time="17:00"),
    )
    periods = session(local("2024-06-04 16:00"), charging(60, "4.3"), charging(30, "1.1"))
    result = price_session(t, periods, BERLIN)
    assert result.total_energy_cost.exact.excl_vat == Decimal("1.184")
    assert result.periods[-1].charges[-1].billed_volume == Decimal("1.2")


def test_time_step_size_uses_session_total() -> None:
    # mod_cdrs "step_size": € 5/h before 17:00, € 7/h after, both step 10 minutes; 6 minutes
    # before and 22 after make 28, rounded to 30, so 24 minutes after 17:00 are billed:
    # 6/60 * 5 + 24/60 * 7 = € 3.30.
    t = tariff(
        element(pc("TIME", "5.00", None, 600), end_time="17:00"),
        element(pc("TIME", "7.00", None, 600), start_time="17:00"),
    )
    result = price_session(t, session(local("2024-06-04 16:54"), charging(28, "5")), BERLIN)
    assert result.total_time_cost.exact.excl_vat == Decimal("3.30")


def test_time_and_parking_step_size_only_on_parking() -> None:
    # mod_cdrs "step_size", last example: charging € 1/h, parking € 2/h, both step 10 minutes;
    # 21 minutes charging and 16 parking bill 21 + 20 minutes, € 0.35 + € 0.666...
    t = tariff(element(pc("TIME", "1.00", None, 600), pc("PARKING_TIME", "2.00", None, 600)))
    result = price_session(t, session(local("2024-06-04 10:00"), charging(21), parking(16)), BERLIN)
    assert _billed_minutes(result, "TIME") == 21
    assert _billed_minutes(result, "PARKING_TIME") == 20
    expected = Fraction(21, 60) + Fraction(20, 60) * 2
    assert result.total_cost.rounded.excl_vat == Decimal("1.02")
    assert abs(Fraction(result.total_cost.exact.excl_vat) - expected) < Fraction(1, 10**25)


def test_cdr_example() -> None:
    # mod_cdrs "Example of a CDR" (examples/cdr_example.json): € 2/h, 10% VAT, step 300 s;
    # 21:39:09 to 23:37:32 (TIME 1.973 h, 7103 s) is billed as 2 hours: € 4.00 / € 4.40.
    cdr = {
        "start_date_time": "2015-06-29T21:39:09Z",
        "end_date_time": "2015-06-29T23:37:32Z",
        "charging_periods": [
            {
                "start_date_time": "2015-06-29T21:39:09Z",
                "dimensions": [{"type": "TIME", "volume": 1.973}],
                "tariff_id": "12",
            }
        ],
    }
    t = tariff(element(pc("TIME", "2.00", "10.0", 300)), id="12", country_code="BE", party_id="BEC")
    result = price_session(t, cdr, "Europe/Brussels")
    totals = result.ocpi_totals()
    assert totals["total_cost"] == {"excl_vat": 4, "incl_vat": 4.4}
    assert totals["total_time_cost"] == {"excl_vat": 4, "incl_vat": 4.4}
    # The example rounds total_time to 1.973; OCPI's 4 decimals give 1.9731 (7103 s).
    assert totals["total_time"] == 1.9731
    assert result.total_time == Decimal(7103) / Decimal(3600)

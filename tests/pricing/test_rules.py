"""Engine rules that docs/pricing.md states where the spec is silent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cpo_backend.pricing import InvalidSessionDataError, price_session
from tests.pricing.helpers import BERLIN, amounts, charging, element, local, pc, session, tariff


def test_min_price_without_incl_vat_keeps_the_session_vat_ratio() -> None:
    t = tariff(element(pc("ENERGY", "0.25", "20.0")), min_price={"excl_vat": Decimal("1.00")})
    result = price_session(t, session(local("2024-06-04 10:00"), charging(10, "1")), BERLIN)
    assert amounts(result.total_cost) == ("1.00", "1.20")


def test_flat_applies_from_the_piece_where_its_element_holds() -> None:
    t = tariff(element(pc("FLAT", "2.00"), min_kwh=Decimal(10)), element(pc("ENERGY", "0.10")))
    small = price_session(t, session(local("2024-06-04 10:00"), charging(60, "5")), BERLIN)
    large = price_session(t, session(local("2024-06-04 10:00"), charging(60, "20")), BERLIN)
    assert small.total_fixed_cost.exact.excl_vat == 0
    assert large.total_fixed_cost.exact.excl_vat == 2
    assert large.periods[1].charges[0].dimension == "FLAT"  # from the piece reaching 10 kWh


def test_tariff_outside_its_validity_window_is_noted() -> None:
    t = tariff(element(pc("ENERGY", "0.25")), end_date_time="2019-06-30T23:59:59Z")
    result = price_session(t, session(local("2024-06-04 10:00"), charging(10, "1")), BERLIN)
    assert "not valid at the session start" in result.notes[0]


def test_bad_session_input_is_refused() -> None:
    t = tariff(element(pc("ENERGY", "0.25")))
    periods = session(local("2024-06-04 10:00"), charging(10, "1"))
    with pytest.raises(InvalidSessionDataError, match="time zone"):
        price_session(t, periods, "Mars/Olympus")
    cdr = {
        "start_date_time": "2024-06-04T10:00:00Z",
        "end_date_time": "2024-06-04T11:00:00Z",
        "charging_periods": [
            {
                "start_date_time": "2024-06-04T10:30:00Z",
                "dimensions": [{"type": "TIME", "volume": 0.5}],
            },
            {
                "start_date_time": "2024-06-04T10:00:00Z",
                "dimensions": [{"type": "TIME", "volume": 0.5}],
            },
        ],
    }
    with pytest.raises(InvalidSessionDataError, match="ordered"):
        price_session(t, cdr, "UTC")
    cdr["charging_periods"] = [
        {"start_date_time": "2024-06-04T10:00:00Z", "dimensions": [{"type": "WATT", "volume": 1}]}
    ]
    with pytest.raises(InvalidSessionDataError, match="CdrDimensionType"):
        price_session(t, cdr, "UTC")

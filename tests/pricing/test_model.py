"""Parsing validates the OCPI field rules; rendering gives back spec-true JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from decimal import Decimal

import pytest

from cpo_backend.pricing import (
    InvalidTariffError,
    TariffConversionError,
    parse_tariff,
    parse_tariff_211,
    render_tariff,
    render_tariff_211,
)
from cpo_backend.pricing.values import format_datetime, parse_datetime
from tests.pricing.helpers import element, pc, tariff

FULL = tariff(
    element(pc("FLAT", "0.50", "20.0")),
    element(
        pc("ENERGY", "0.25", "10.0"),
        start_time="22:00",
        end_time="06:00",
        start_date="2024-01-01",
        end_date="2025-01-01",
        min_kwh=Decimal("0.5"),
        max_kwh=Decimal(50),
        min_power=Decimal("1.5"),
        max_power=Decimal(22),
        min_duration=60,
        max_duration=7200,
        day_of_week=["SATURDAY", "SUNDAY"],
    ),
    element(pc("TIME", "3.00", "20.0", 600), reservation="RESERVATION"),
    type="REGULAR",
    tariff_alt_text=[{"language": "en", "text": "Cheap at night"}],
    tariff_alt_url="https://example.com/t1",
    min_price={"excl_vat": Decimal("1.00"), "incl_vat": Decimal("1.20")},
    start_date_time="2024-01-01T00:00:00.120Z",
    end_date_time="2025-01-01T00:00:00Z",
    energy_mix={
        "is_green_energy": True,
        "energy_sources": [{"source": "SOLAR", "percentage": Decimal(100)}],
        "supplier_name": "Sun",
    },
)


def test_render_round_trips_a_full_tariff_as_json_numbers() -> None:
    rendered = render_tariff(parse_tariff(FULL))
    text = json.dumps(rendered)
    assert '"price": 0.25' in text
    assert '"vat": 10' in text
    assert rendered["start_date_time"] == "2024-01-01T00:00:00.120Z"
    assert rendered["elements"][1]["restrictions"]["start_time"] == "22:00"
    assert parse_tariff(json.loads(text)) == parse_tariff(FULL)


def test_float_input_keeps_the_written_decimal() -> None:
    parsed = parse_tariff(
        json.loads(json.dumps(tariff(element({"type": "ENERGY", "price": 0.1, "step_size": 1}))))
    )
    assert parsed.elements[0].price_components[0].price == Decimal("0.1")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"country_code": "DEU"}, "country_code"),
        ({"party_id": "TOOLONG"}, "party_id"),
        ({"id": "x" * 37}, "id"),
        ({"currency": "euro"}, "currency"),
        ({"type": "CHEAP"}, "type"),
        ({"elements": []}, "elements"),
        ({"last_updated": "yesterday"}, "last_updated"),
        ({"tariff_alt_text": [{"language": "eng", "text": "x"}]}, "language"),
        ({"tariff_alt_url": "https://x/" + "y" * 250}, "tariff_alt_url"),
        ({"elements": [element(pc("WATTS", "1"))]}, "type"),
        ({"elements": [element(pc("ENERGY", "-1"))]}, "price"),
        ({"elements": [element({"type": "ENERGY", "price": True, "step_size": 1})]}, "price"),
        ({"elements": [element(pc("ENERGY", "1"), start_time="24:00")]}, "start_time"),
        ({"elements": [element(pc("ENERGY", "1"), start_date="2024-13-01")]}, "start_date"),
        ({"elements": [element(pc("ENERGY", "1"), day_of_week=["MON"])]}, "day_of_week"),
        ({"elements": [element(pc("ENERGY", "1"), reservation="YES")]}, "reservation"),
    ],
)
def test_invalid_fields_raise_a_clear_error(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidTariffError, match=field):
        parse_tariff({**tariff(element(pc("ENERGY", "0.25"))), **change})


def test_spec_put_example_lacks_last_updated() -> None:
    # SPEC ERROR: mod_tariffs "Example: New Tariff € 2 per hour charging time" (PUT example)
    # omits last_updated, which the Tariff object requires (cardinality 1).
    put_example = tariff(element(pc("TIME", "2.00", "10.0", 300)))
    del put_example["last_updated"]
    with pytest.raises(InvalidTariffError, match="last_updated"):
        parse_tariff(put_example)


def test_end_time_midnight_and_unknown_fields() -> None:
    parsed = parse_tariff(
        {**tariff(element(pc("TIME", "1"), start_time="20:00", end_time="00:00")), "extra": 1}
    )
    restrictions = parsed.elements[0].restrictions
    assert restrictions is not None
    assert restrictions.end_time == time(0, 0)


def test_datetime_rendering_is_utc_z_and_milliseconds() -> None:
    instant = parse_datetime("2016-12-29T17:45:09.2", "x")
    assert format_datetime(instant) == "2016-12-29T17:45:09.200Z"
    assert (
        format_datetime(datetime(2020, 1, 1, 12, 0, 0, 999_999, tzinfo=UTC))
        == "2020-01-01T12:00:00.999Z"
    )
    assert (
        format_datetime(parse_datetime("2015-06-29T22:39:09+01:00", "x")) == "2015-06-29T21:39:09Z"
    )


V211 = {
    "id": "11",
    "currency": "EUR",
    "tariff_alt_url": "https://company.com/tariffs/11",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 2.5, "step_size": 1}]},
        {
            "price_components": [{"type": "TIME", "price": 1.0, "step_size": 900}],
            "restrictions": {"max_power": 32.0},
        },
    ],
    "last_updated": "2015-06-29T20:39:09Z",
}


def test_211_round_trip() -> None:
    # The 2.1.1 "Complex Tariff example" shape (first elements): no owner, no VAT.
    parsed = parse_tariff_211(V211, country_code="NL", party_id="TNM")
    assert parsed.country_code == "NL"
    assert parsed.elements[1].restrictions is not None
    assert render_tariff_211(parsed) == V211


def test_211_output_drops_informative_fields_and_reservations() -> None:
    parsed = parse_tariff({**FULL, "min_price": None})
    rendered = render_tariff_211(parsed)
    assert set(rendered) == {
        "id",
        "currency",
        "tariff_alt_text",
        "tariff_alt_url",
        "energy_mix",
        "elements",
        "last_updated",
    }
    assert len(rendered["elements"]) == 2
    assert "vat" not in rendered["elements"][0]["price_components"][0]


@pytest.mark.parametrize(
    "tariff_dict",
    [
        FULL,
        tariff(element(pc("TIME", "1"), max_current=Decimal(16))),
        tariff(element(pc("TIME", "1"), reservation="RESERVATION")),
    ],
)
def test_211_output_refuses_price_changing_losses(tariff_dict: dict[str, object]) -> None:
    with pytest.raises(TariffConversionError):
        render_tariff_211(parse_tariff(tariff_dict))

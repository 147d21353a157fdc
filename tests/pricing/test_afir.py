"""AFIR price text: per kWh, per minute, per session, then the rest, all incl. VAT."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cpo_backend.pricing import (
    AfirCategory,
    DisplayText,
    ad_hoc_tariff,
    afir_display_text,
    afir_price_lines,
    afir_price_text,
    parse_tariff,
    render_tariff,
    render_tariff_211,
    with_afir_alt_text,
)
from tests.pricing.helpers import element, pc, tariff


def test_lines_follow_afir_order_incl_vat() -> None:
    t = parse_tariff(
        tariff(
            element(
                pc("PARKING_TIME", "6.00", "20.0", 300),
                day_of_week=["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
            ),
            element(pc("FLAT", "0.50", "20.0"), pc("TIME", "1.20", "20.0")),
            element(pc("ENERGY", "0.25", "10.0"), start_time="22:00", end_time="06:00"),
            element(pc("ENERGY", "0.30", "10.0", 100)),
            element(pc("TIME", "3.00", "20.0", 600), reservation="RESERVATION"),
            max_price={"excl_vat": Decimal(20), "incl_vat": Decimal(24)},
        )
    )
    assert afir_price_text(t).splitlines() == [
        "0.275 EUR/kWh incl. VAT (22:00-06:00)",
        "0.33 EUR/kWh incl. VAT, billed per 100 Wh",
        "0.024 EUR/min charging incl. VAT",
        "0.60 EUR per session incl. VAT",
        "Parking (not charging): 0.12 EUR/min incl. VAT, billed per 300 s (Mon-Fri)",
        "Reservation: 0.06 EUR/min incl. VAT, billed per 600 s",
        "Maximum price per session: 24.00 EUR incl. VAT",
    ]
    assert [line.category for line in afir_price_lines(t)][:4] == [
        AfirCategory.PER_KWH,
        AfirCategory.PER_KWH,
        AfirCategory.PER_MINUTE,
        AfirCategory.PER_SESSION,
    ]


def test_ad_hoc_payment_tariff() -> None:
    # mod_tariffs "Ad-Hoc Tariff example not possible with OCPI" (AD_HOC_PAYMENT): € 0.40 start
    # at 25% VAT and € 1.90/h at 5.2% VAT, billed per 5 minutes.
    regular = parse_tariff(tariff(element(pc("ENERGY", "0.30", "19.0")), id="REG", type="REGULAR"))
    ad_hoc = parse_tariff(
        tariff(
            element(pc("FLAT", "0.40", "25.0"), pc("TIME", "1.90", "5.2", 300)),
            id="ADHOC",
            type="AD_HOC_PAYMENT",
            tariff_alt_text=[{"language": "en", "text": "Debit card start tariff 0.25 euro."}],
        )
    )
    chosen = ad_hoc_tariff([regular, ad_hoc])
    assert chosen is ad_hoc
    assert afir_price_text(ad_hoc).splitlines() == [
        "0.0333 EUR/min charging incl. VAT, billed per 300 s",
        "0.50 EUR per session incl. VAT",
    ]
    assert ad_hoc_tariff([regular]) is None


def test_a_tariff_without_text_is_published_with_the_price_text() -> None:
    t = parse_tariff(
        tariff(
            element(pc("FLAT", "0.40", "25.0"), pc("TIME", "1.90", "5.2", 300)),
            type="AD_HOC_PAYMENT",
        )
    )
    published = with_afir_alt_text(t, ["en"])
    expected = "0.0333 EUR/min charging incl. VAT, billed per 300 s; 0.50 EUR per session incl. VAT"
    assert published.tariff_alt_text == (DisplayText(language="en", text=expected),)
    # Both versions carry it; nothing else changes.
    assert render_tariff(published)["tariff_alt_text"] == [{"language": "en", "text": expected}]
    assert render_tariff_211(published)["tariff_alt_text"] == [{"language": "en", "text": expected}]
    assert published.model_copy(update={"tariff_alt_text": ()}) == t
    # Publishing what is published changes nothing.
    assert with_afir_alt_text(published, ["en"]) == published


def test_the_operator_s_text_is_kept() -> None:
    own = [
        {"language": "en", "text": "Debit card start tariff 0.25 euro."},
        {"language": "nl", "text": "Starttarief met pinpas 0,25 euro."},
    ]
    t = parse_tariff(tariff(element(pc("ENERGY", "0.30", "19.0")), tariff_alt_text=own))
    assert with_afir_alt_text(t, ["en"]) is t
    dutch_only = parse_tariff(
        tariff(element(pc("ENERGY", "0.30", "19.0")), tariff_alt_text=own[1:])
    )
    published = with_afir_alt_text(dutch_only, ["EN", "en"])
    assert [(d.language, d.text) for d in published.tariff_alt_text] == [
        ("nl", "Starttarief met pinpas 0,25 euro."),
        ("en", "0.357 EUR/kWh incl. VAT"),
    ]


def test_a_long_price_text_says_that_more_prices_apply() -> None:
    hours = [f"{h:02d}:00" for h in range(24)]
    elements = [
        element(pc("ENERGY", f"0.{20 + h}", "19.0"), start_time=start, end_time=end)
        for h, (start, end) in enumerate(zip(hours, [*hours[1:], "00:00"], strict=True))
    ]
    long = parse_tariff(tariff(*elements, element(pc("TIME", "1.20", "19.0"))))
    text = afir_display_text(long).text
    assert len(text) <= 512
    assert text.isprintable()
    assert text.startswith("0.238 EUR/kWh incl. VAT (00:00-01:00); ")
    assert text.endswith("; more prices apply")
    with_url = long.model_copy(update={"tariff_alt_url": "https://cpo.example.com/tariffs/T1"})
    assert afir_display_text(with_url).text.endswith(
        "; more prices: https://cpo.example.com/tariffs/T1"
    )
    # The whole list, had it fitted, is what the shortened one starts with.
    kept = text.removesuffix("; more prices apply").split("; ")
    assert kept == [line.text for line in afir_price_lines(long)][: len(kept)]


def test_no_text_is_made_up_in_a_language_it_is_not_written_in() -> None:
    t = parse_tariff(tariff(element(pc("ENERGY", "0.30", "19.0"))))
    with pytest.raises(ValueError, match="'de'"):
        with_afir_alt_text(t, ["en", "de"])

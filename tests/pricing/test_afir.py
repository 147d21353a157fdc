"""AFIR price text: per kWh, per minute, per session, then the rest, all incl. VAT."""

from __future__ import annotations

from decimal import Decimal

from cpo_backend.pricing import (
    AfirCategory,
    ad_hoc_tariff,
    afir_price_lines,
    afir_price_text,
    parse_tariff,
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

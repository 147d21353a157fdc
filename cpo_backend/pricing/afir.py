"""The human price text the EU AFIR (Regulation (EU) 2023/1804, Art. 5) asks for.

AFIR wants ad hoc prices shown in a fixed order, including VAT: price per kWh, price per
minute, price per session, then any other price component. Each line names the conditions
(the element's restrictions) under which it applies, so a time-of-day tariff reads as the
list of its rates. Amounts keep up to 4 decimals: a per-kWh or per-minute price rounded to
cents would misstate what is charged.

The same text is what a published tariff carries as ``tariff_alt_text`` where the operator
wrote none (:func:`with_afir_alt_text`): the price a driver is shown then travels with the
tariff to every eMSP, in OCPI 2.2.1 and 2.1.1 alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from cpo_backend.pricing.model import (
    DayOfWeek,
    DisplayText,
    Price,
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffRestrictions,
    TariffType,
)
from cpo_backend.pricing.rounding import minor_unit, round_half_up

_PRICE_DECIMALS = 4
# The languages the price text is written in. One: another needs its own words and its
# own number format (a decimal comma), not a word-for-word table.
GENERATED_LANGUAGES = frozenset({"en"})
# What a published tariff carries unless configured otherwise (ocpi.tariff_alt_text_languages).
DEFAULT_ALT_TEXT_LANGUAGES: tuple[str, ...] = ("en",)
# OCPI DisplayText.text is string(512), in 2.2.1 and 2.1.1, and allows no control
# characters: the lines are joined on one line.
_DISPLAY_TEXT_LENGTH = 512
_LINE_SEPARATOR = "; "
_DAY_NAMES = {d: d.value[:3].title() for d in DayOfWeek}
_WEEK = list(DayOfWeek)


class AfirCategory(StrEnum):
    """AFIR's display order, in order."""

    PER_KWH = "per_kwh"
    PER_MINUTE = "per_minute"
    PER_SESSION = "per_session"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PriceLine:
    category: AfirCategory
    text: str


def ad_hoc_tariff(tariffs: Iterable[Tariff]) -> Tariff | None:
    """The tariff for ad hoc (card) payment: AD_HOC_PAYMENT, else one valid for all sessions."""
    candidates = list(tariffs)
    for wanted in (TariffType.AD_HOC_PAYMENT, None):
        found = next((t for t in candidates if t.type is wanted), None)
        if found is not None:
            return found
    return None


def afir_price_text(tariff: Tariff) -> str:
    """The price text, one line per price, in AFIR order."""
    return "\n".join(line.text for line in afir_price_lines(tariff))


def with_afir_alt_text(tariff: Tariff, languages: Iterable[str]) -> Tariff:
    """``tariff`` as it is published: the operator's ``tariff_alt_text`` kept as written,
    plus the AFIR price text in each of ``languages`` the operator wrote no text in.

    A text the operator wrote is theirs to keep (it may say what OCPI cannot express, as the
    spec's debit-card example does); a missing one would leave the eMSP nothing to show.
    Raises ``ValueError`` for a language not in :data:`GENERATED_LANGUAGES`.
    """
    written = {text.language.lower() for text in tariff.tariff_alt_text}
    wanted = dict.fromkeys(lang.lower() for lang in languages)
    generated = tuple(afir_display_text(tariff, lang) for lang in wanted if lang not in written)
    if not generated:
        return tariff
    return tariff.model_copy(update={"tariff_alt_text": (*tariff.tariff_alt_text, *generated)})


def afir_display_text(tariff: Tariff, language: str = "en") -> DisplayText:
    """The price text as one OCPI DisplayText: the lines of :func:`afir_price_lines` on one
    line, separated by "; ".

    Where they do not fit in 512 characters, the lines that fit are kept (AFIR's per kWh,
    per minute and per session prices come first) and the text says that more prices
    apply, naming ``tariff_alt_url`` when there is one: a shortened list must not read as
    the whole price.
    """
    if language not in GENERATED_LANGUAGES:
        raise ValueError(
            f"no AFIR price text in {language!r}; written in {sorted(GENERATED_LANGUAGES)}"
        )
    lines = [line.text for line in afir_price_lines(tariff)]
    text = _LINE_SEPARATOR.join(lines)
    if len(text) > _DISPLAY_TEXT_LENGTH:
        more = (
            f"more prices: {tariff.tariff_alt_url}"
            if tariff.tariff_alt_url
            else "more prices apply"
        )
        kept: list[str] = []
        for line in lines:
            if len(_LINE_SEPARATOR.join([*kept, line, more])) > _DISPLAY_TEXT_LENGTH:
                break
            kept.append(line)
        text = _LINE_SEPARATOR.join([*kept, more])
    return DisplayText(language=language, text=text)


def afir_price_lines(tariff: Tariff) -> list[PriceLine]:
    """Every price of ``tariff`` as a line incl. VAT, sorted in the order AFIR prescribes."""
    lines: list[PriceLine] = []
    for element in tariff.elements:
        reservation = element.restrictions.reservation if element.restrictions else None
        condition = _condition(element.restrictions)
        for component in element.price_components:
            lines.append(_line(tariff.currency, component, reservation, condition))
    lines.extend(_limit_lines(tariff))
    order = list(AfirCategory)
    return sorted(lines, key=lambda line: order.index(line.category))


def _line(
    currency: str,
    component: PriceComponent,
    reservation: ReservationRestrictionType | None,
    condition: str,
) -> PriceLine:
    gross = _gross(component)
    step = component.step_size
    if reservation is not None:
        label = (
            "Reservation"
            if reservation is ReservationRestrictionType.RESERVATION
            else "Expired reservation"
        )
        if component.type is TariffDimensionType.FLAT:
            text = f"{label} fee: {_money(gross, currency)} incl. VAT"
        else:
            text = f"{label}: {_money(gross / 60, currency)}/min incl. VAT{_per(step, 's')}"
        return PriceLine(AfirCategory.OTHER, text + condition)
    match component.type:
        case TariffDimensionType.ENERGY:
            text = f"{_money(gross, currency)}/kWh incl. VAT{_per(step, 'Wh')}"
            return PriceLine(AfirCategory.PER_KWH, text + condition)
        case TariffDimensionType.TIME:
            text = f"{_money(gross / 60, currency)}/min charging incl. VAT{_per(step, 's')}"
            return PriceLine(AfirCategory.PER_MINUTE, text + condition)
        case TariffDimensionType.FLAT:
            text = f"{_money(gross, currency)} per session incl. VAT"
            return PriceLine(AfirCategory.PER_SESSION, text + condition)
        case TariffDimensionType.PARKING_TIME:
            per_minute = _money(gross / 60, currency)
            text = f"Parking (not charging): {per_minute}/min incl. VAT{_per(step, 's')}"
            return PriceLine(AfirCategory.OTHER, text + condition)


def _gross(component: PriceComponent) -> Fraction:
    net = Fraction(component.price)
    return net if component.vat is None else net * (1 + Fraction(component.vat) / 100)


def _limit_lines(tariff: Tariff) -> list[PriceLine]:
    lines = []
    for label, price in (("Minimum", tariff.min_price), ("Maximum", tariff.max_price)):
        if price is not None:
            amount, vat = _limit_amount(price)
            text = f"{label} price per session: {_money(amount, tariff.currency)} {vat}"
            lines.append(PriceLine(AfirCategory.OTHER, text))
    return lines


def _limit_amount(price: Price) -> tuple[Fraction, str]:
    if price.incl_vat is not None:
        return Fraction(price.incl_vat), "incl. VAT"
    return Fraction(price.excl_vat), "excl. VAT"


def _money(amount: Fraction, currency: str) -> str:
    """Up to 4 decimals, never fewer than the currency's minor unit (0.3 EUR reads 0.30)."""
    value = round_half_up(amount, _PRICE_DECIMALS).normalize()
    exponent = value.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    shown = max(minor_unit(currency), decimals)
    return f"{value.quantize(Decimal(1).scaleb(-shown)):f} {currency}"


def _per(step: int, unit: str) -> str:
    # A step of one unit (or none) is exact billing and not worth a word.
    return f", billed per {step} {unit}" if step > 1 else ""


def _condition(r: TariffRestrictions | None) -> str:
    if r is None:
        return ""
    parts: list[str] = []
    if r.day_of_week:
        parts.append(_days(r.day_of_week))
    if r.start_time is not None or r.end_time is not None:
        start = r.start_time.strftime("%H:%M") if r.start_time else "00:00"
        end = (
            r.end_time.strftime("%H:%M")
            if r.end_time and r.end_time.hour + r.end_time.minute
            else "24:00"
        )
        parts.append(f"{start}-{end}")
    if r.start_date is not None:
        parts.append(f"from {r.start_date.isoformat()}")
    if r.end_date is not None:
        parts.append(f"before {r.end_date.isoformat()}")
    for low, high, unit in (
        (r.min_kwh, r.max_kwh, "kWh charged"),
        (r.min_power, r.max_power, "kW"),
        (r.min_current, r.max_current, "A"),
    ):
        if low is not None:
            parts.append(f"from {low.normalize():f} {unit}")
        if high is not None:
            parts.append(f"below {high.normalize():f} {unit}")
    if r.min_duration is not None:
        parts.append(f"after {_minutes(r.min_duration)} min")
    if r.max_duration is not None:
        parts.append(f"during the first {_minutes(r.max_duration)} min")
    return f" ({', '.join(parts)})" if parts else ""


def _minutes(seconds: int) -> str:
    return f"{(Decimal(seconds) / 60).normalize():f}"


def _days(days: Sequence[DayOfWeek]) -> str:
    """ "Mon-Fri" for a consecutive run, else "Mon, Wed"."""
    indices = sorted(_WEEK.index(d) for d in days)
    if len(indices) > 2 and indices == list(range(indices[0], indices[-1] + 1)):
        return f"{_DAY_NAMES[_WEEK[indices[0]]]}-{_DAY_NAMES[_WEEK[indices[-1]]]}"
    return ", ".join(_DAY_NAMES[_WEEK[i]] for i in indices)

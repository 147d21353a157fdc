"""The OCPI 2.2.1 tariff model (mod_tariffs, plus Price and DisplayText from types).

The model is the single in-memory shape every other module works on; the 2.1.1 shape is
converted into it at the edge (:mod:`cpo_backend.pricing.v211`). Numbers are ``Decimal`` and
DateTimes aware UTC, so nothing downstream has to care how the JSON was written. The models
are frozen: a tariff is a published contract and pricing must never mutate it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cpo_backend.pricing.errors import InvalidTariffError
from cpo_backend.pricing.values import parse_datetime, to_decimal


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class TariffDimensionType(StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"

    @classmethod
    def of(cls, day: date) -> DayOfWeek:
        return _WEEK[day.weekday()]


_WEEK = tuple(DayOfWeek)


class ReservationRestrictionType(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class EnergySourceCategory(StrEnum):
    NUCLEAR = "NUCLEAR"
    GENERAL_FOSSIL = "GENERAL_FOSSIL"
    COAL = "COAL"
    GAS = "GAS"
    GENERAL_GREEN = "GENERAL_GREEN"
    SOLAR = "SOLAR"
    WIND = "WIND"
    WATER = "WATER"


class EnvironmentalImpactCategory(StrEnum):
    NUCLEAR_WASTE = "NUCLEAR_WASTE"
    CARBON_DIOXIDE = "CARBON_DIOXIDE"


_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")
_TIME_OF_DAY = re.compile(r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")
_DATE = re.compile(r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _ci_string(value: str) -> str:
    if not _PRINTABLE_ASCII.match(value):
        raise ValueError("CiString allows printable ASCII only")
    return value


def _string(value: str) -> str:
    if not value.isprintable():
        raise ValueError("string must not contain control characters")
    return value


def _number(value: object) -> Decimal:
    return to_decimal(value, "number")


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _instant(value: object) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetime must be time-zone aware")
        return parse_datetime(value.isoformat(), "DateTime")
    return parse_datetime(value, "DateTime")


def _time_of_day(value: object) -> object:
    if isinstance(value, str):
        if not _TIME_OF_DAY.match(value):
            raise ValueError("time of day must be HH:MM, 24h with leading zeros")
        return time.fromisoformat(value)
    return value


def _calendar_date(value: object) -> object:
    if isinstance(value, str):
        if not _DATE.match(value):
            raise ValueError("date must be YYYY-MM-DD")
        return date.fromisoformat(value)
    return value


Number = Annotated[Decimal, BeforeValidator(_number)]
NonNegative = Annotated[Decimal, BeforeValidator(_number), AfterValidator(_non_negative)]
Instant = Annotated[datetime, BeforeValidator(_instant)]
TimeOfDay = Annotated[time, BeforeValidator(_time_of_day)]
CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]
CiString2 = Annotated[str, Field(min_length=1, max_length=2), AfterValidator(_ci_string)]
CiString3 = Annotated[str, Field(min_length=1, max_length=3), AfterValidator(_ci_string)]
CiString36 = Annotated[str, Field(min_length=1, max_length=36), AfterValidator(_ci_string)]
Language = Annotated[str, Field(min_length=2, max_length=2), AfterValidator(_string)]
String64 = Annotated[str, Field(max_length=64), AfterValidator(_string)]
String255 = Annotated[str, Field(max_length=255), AfterValidator(_string)]
String512 = Annotated[str, Field(max_length=512), AfterValidator(_string)]
Currency = Annotated[str, AfterValidator(lambda v: _check(_CURRENCY, v, "ISO 4217 code"))]


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.match(value):
        raise ValueError(f"must be an {what}")
    return value


class _Model(BaseModel):
    # Unknown fields are ignored, not rejected: OCPI receivers must tolerate additions.
    model_config = ConfigDict(frozen=True, extra="ignore", strict=False)


class Price(_Model):
    excl_vat: NonNegative
    incl_vat: NonNegative | None = None


class DisplayText(_Model):
    language: Language
    text: String512


class EnergySource(_Model):
    source: EnergySourceCategory
    percentage: NonNegative


class EnvironmentalImpact(_Model):
    category: EnvironmentalImpactCategory
    amount: NonNegative


class EnergyMix(_Model):
    is_green_energy: bool
    energy_sources: tuple[EnergySource, ...] = ()
    environ_impact: tuple[EnvironmentalImpact, ...] = ()
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


class TariffRestrictions(_Model):
    """When a tariff element applies; every set field must hold (logical AND)."""

    start_time: TimeOfDay | None = None
    end_time: TimeOfDay | None = None
    start_date: CalendarDate | None = None
    end_date: CalendarDate | None = None
    min_kwh: NonNegative | None = None
    max_kwh: NonNegative | None = None
    min_current: NonNegative | None = None
    max_current: NonNegative | None = None
    min_power: NonNegative | None = None
    max_power: NonNegative | None = None
    min_duration: Annotated[int, Field(ge=0, strict=True)] | None = None
    max_duration: Annotated[int, Field(ge=0, strict=True)] | None = None
    day_of_week: tuple[DayOfWeek, ...] = ()
    reservation: ReservationRestrictionType | None = None


class PriceComponent(_Model):
    type: TariffDimensionType
    price: NonNegative
    vat: NonNegative | None = None
    # The spec's own Free of Charge example uses 0; it means "no rounding", like 1.
    step_size: Annotated[int, Field(ge=0, strict=True)]


class TariffElement(_Model):
    price_components: Annotated[tuple[PriceComponent, ...], Field(min_length=1)]
    restrictions: TariffRestrictions | None = None

    def component(self, dimension: TariffDimensionType) -> PriceComponent | None:
        """The element's price component for ``dimension`` (OCPI allows one per dimension)."""
        return next((pc for pc in self.price_components if pc.type is dimension), None)


class Tariff(_Model):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    currency: Currency
    type: TariffType | None = None
    tariff_alt_text: tuple[DisplayText, ...] = ()
    tariff_alt_url: String255 | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: Annotated[tuple[TariffElement, ...], Field(min_length=1)]
    start_date_time: Instant | None = None
    end_date_time: Instant | None = None
    energy_mix: EnergyMix | None = None
    last_updated: Instant

    def is_active_at(self, instant: datetime) -> bool:
        """Whether ``instant`` lies in the validity window (start inclusive, end exclusive)."""
        if self.start_date_time is not None and instant < self.start_date_time:
            return False
        return self.end_date_time is None or instant < self.end_date_time


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Mapping[str, Any], error: type[Exception]) -> M:
    """Validate ``data`` into ``model``, re-raising pydantic's error as ``error`` with paths."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
        )
        raise error(f"invalid {model.__name__}: {problems}") from exc


def parse_tariff(data: Mapping[str, Any] | Tariff) -> Tariff:
    """Parse an OCPI 2.2.1 Tariff object (as decoded JSON) into the model."""
    if isinstance(data, Tariff):
        return data
    return validated(Tariff, data, InvalidTariffError)

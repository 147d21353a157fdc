"""Charging profiles: limits on the power or current a charger may draw, over time.

The shape both OCPP versions share (a 1.6 csChargingProfiles, a 2.0.1 ChargingProfile
with one schedule), in neutral words; the adapters translate it. Today a profile rides
along a remote start (a transaction's own limit); smart charging builds on the same type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal


class ProfilePurpose(StrEnum):
    # The whole station's ceiling (1.6 ChargePointMaxProfile, 2.0.1 ChargingStationMax).
    STATION_MAX = "station_max"
    # The default for transactions that have no profile of their own.
    TX_DEFAULT = "tx_default"
    # One transaction's limit.
    TX = "tx"


class ProfileKind(StrEnum):
    # From ``start_schedule``.
    ABSOLUTE = "absolute"
    # From ``start_schedule``, again every day or week.
    RECURRING = "recurring"
    # From the start of the transaction it applies to.
    RELATIVE = "relative"


class RateUnit(StrEnum):
    AMPERE = "A"
    WATT = "W"


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    """From ``start`` seconds into the schedule on, at most ``limit`` (of the rate unit)."""

    start: int
    limit: Decimal
    phases: int | None = None


@dataclass(frozen=True, slots=True)
class ChargingSchedule:
    rate_unit: RateUnit
    periods: tuple[SchedulePeriod, ...]
    # Seconds; None: the last period lasts until the profile ends.
    duration: int | None = None
    start_schedule: datetime | None = None
    min_rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    id: int
    stack_level: int
    purpose: ProfilePurpose
    kind: ProfileKind
    schedule: ChargingSchedule
    recurrency: Literal["daily", "weekly"] | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    # The charger's id of the transaction a TX profile is for (None: the one it starts).
    charger_transaction_id: str | None = None

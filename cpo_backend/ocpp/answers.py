"""What both OCPP versions' command messages share: answers with a status, charging profiles.

The version modules (``v16/commands.py``, ``v201/commands.py``) translate each neutral
command; the pieces that read or write the same JSON in both versions live here once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cpo_backend.domain import commands as c
from cpo_backend.domain.charging import (
    ChargingProfile,
    ChargingSchedule,
    ProfileKind,
    ProfilePurpose,
)
from cpo_backend.domain.commands import Acknowledgement, CommandStatus
from cpo_backend.domain.time import format_utc

# OCPP 1.6 and 2.0.1 spell the kinds the same way.
_KINDS = {
    ProfileKind.ABSOLUTE: "Absolute",
    ProfileKind.RECURRING: "Recurring",
    ProfileKind.RELATIVE: "Relative",
}
_RECURRENCY = {"daily": "Daily", "weekly": "Weekly"}
# Both versions' purposes but the station's ceiling, which each version names its own way.
_PURPOSES = {ProfilePurpose.TX_DEFAULT: "TxDefaultProfile", ProfilePurpose.TX: "TxProfile"}


def common_call(command: c.Command[c.CommandResult]) -> tuple[str, dict[str, Any]] | None:
    """The call of a command that both versions write alike, or None."""
    match command:
        case c.ClearCache():
            return "ClearCache", {}
        case c.DataTransfer():
            return "DataTransfer", present(
                {"vendorId": command.vendor_id}, messageId=command.message_id, data=command.data
            )
    return None


def common_result(command: c.Command[c.CommandResult], answer: dict[str, Any]) -> c.CommandResult:
    """The result of an answer that both versions write alike: a DataTransfer's, or a
    plain acknowledgement."""
    if isinstance(command, c.DataTransfer):
        return c.DataTransferAnswer(c.CommandStatus(answer["status"]), answer.get("data"))
    return acknowledgement(answer)


def acknowledgement(answer: dict[str, Any]) -> Acknowledgement:
    """An answer whose ``status`` is the whole of it (and a 2.0.1 ``statusInfo``, the why)."""
    return Acknowledgement(CommandStatus(answer["status"]), reason_of(answer))


def reason_of(answer: dict[str, Any]) -> str | None:
    """The reason a 2.0.1 answer gives (``statusInfo``), in one line; 1.6 gives none."""
    info = answer.get("statusInfo")
    if not info:
        return None
    more = info.get("additionalInfo")
    return f"{info['reasonCode']}: {more}" if more else str(info["reasonCode"])


def present(required: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """``required`` plus the optional fields that were given."""
    return required | {key: value for key, value in optional.items() if value is not None}


def number(value: Decimal) -> int | float:
    """A JSON number: a limit such as 16 or 7.4 (the schemas allow one decimal)."""
    return int(value) if value == value.to_integral_value() else float(value)


def profile_fields(profile: ChargingProfile, station_max: str) -> dict[str, Any]:
    """The fields of a charging profile that both versions name alike (not its id,
    schedule or transaction, which differ); ``station_max``: the version's name of the
    station's ceiling."""
    purpose = _PURPOSES.get(profile.purpose, station_max)
    return present(
        {
            "stackLevel": profile.stack_level,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": _KINDS[profile.kind],
        },
        recurrencyKind=_RECURRENCY[profile.recurrency] if profile.recurrency else None,
        validFrom=format_utc(profile.valid_from) if profile.valid_from else None,
        validTo=format_utc(profile.valid_to) if profile.valid_to else None,
    )


def schedule_fields(schedule: ChargingSchedule) -> dict[str, Any]:
    """A ChargingScheduleType as both versions have it (2.0.1 adds an ``id``)."""
    periods = [
        present(
            {"startPeriod": period.start, "limit": number(period.limit)}, numberPhases=period.phases
        )
        for period in schedule.periods
    ]
    return present(
        {"chargingRateUnit": schedule.rate_unit.value, "chargingSchedulePeriod": periods},
        duration=schedule.duration,
        startSchedule=format_utc(schedule.start_schedule) if schedule.start_schedule else None,
        minChargingRate=number(schedule.min_rate) if schedule.min_rate is not None else None,
    )

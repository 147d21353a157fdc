"""Sessions and CDRs in the OCPI 2.1.1 shape, derived from their 2.2.1 form.

2.1.1 names the driver by ``auth_id`` (our copy of the token's ``contract_id``), the
place by a whole Location cut down to the EVSE and connector used, costs by a number
without VAT, and knows fewer auth methods and CDR dimensions. Both shapes come from the
same stored session and sealed 2.2.1 CDR, so the two versions never disagree on a figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from cpo_backend.ocpi.v211.locations import session_location_211
from cpo_backend.pricing import TariffConversionError, parse_tariff, render_tariff_211
from cpo_backend.roaming.locations import Location

log = structlog.get_logger(__name__)

# 2.1.1 AuthMethod has no COMMAND: a remote start was authorized by the eMSP itself.
AUTH_METHODS = {"WHITELIST": "WHITELIST"}
DIMENSIONS = frozenset({"ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"})
# 2.2.1 names -> 2.1.1 names, where they differ.
RENAMED = {"start_date_time": "start_datetime", "end_date_time": "end_datetime"}
# 2.2.1 fields a 2.1.1 Session does not have.
DROPPED = frozenset({"country_code", "party_id", "cdr_token", "location_id", "evse_uid"})


def auth_method_211(method: str) -> str:
    return AUTH_METHODS.get(method, "AUTH_REQUEST")


def charging_periods_211(periods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the dimensions 2.1.1 knows; a period left with none is left out."""
    kept = []
    for period in periods:
        dimensions = [d for d in period["dimensions"] if d["type"] in DIMENSIONS]
        if dimensions:
            kept.append({"start_date_time": period["start_date_time"], "dimensions": dimensions})
    return kept


def excl_vat(price: Any) -> Any:
    return price["excl_vat"] if isinstance(price, Mapping) else price


def session_changes_211(changes: Mapping[str, Any]) -> dict[str, Any]:
    """A 2.2.1 Session (or the changed part of one) in 2.1.1 names and types."""
    converted: dict[str, Any] = {}
    for key, value in changes.items():
        if key in DROPPED or key == "connector_id":
            continue
        if key == "auth_method":
            value = auth_method_211(value)
        elif key == "total_cost":
            value = excl_vat(value)
        elif key == "charging_periods":
            value = charging_periods_211(value)
        converted[RENAMED.get(key, key)] = value
    return converted


def render_session_211(session: Mapping[str, Any], location: Location) -> dict[str, Any]:
    """A whole 2.1.1 Session from the 2.2.1 one and the location it names."""
    rendered = session_changes_211(session)
    rendered["auth_id"] = session["cdr_token"]["contract_id"]
    rendered["location"] = session_location_211(
        location, session["evse_uid"], session["connector_id"]
    )
    return rendered


def render_cdr_211(cdr: Mapping[str, Any], location: Location) -> dict[str, Any]:
    """A 2.1.1 CDR from the sealed 2.2.1 one; the location as it was at sealing."""
    place = cdr["cdr_location"]
    rendered: dict[str, Any] = {
        "id": cdr["id"],
        "start_date_time": cdr["start_date_time"],
        "stop_date_time": cdr["end_date_time"],
        "auth_id": cdr["cdr_token"]["contract_id"],
        "auth_method": auth_method_211(cdr["auth_method"]),
        "location": session_location_211(location, place["evse_uid"], place["connector_id"]),
        "currency": cdr["currency"],
        "tariffs": [t for t in (_tariff_211(t) for t in cdr.get("tariffs", [])) if t],
        "charging_periods": charging_periods_211(cdr["charging_periods"]),
        "total_cost": excl_vat(cdr["total_cost"]),
        "total_energy": cdr["total_energy"],
        "total_time": cdr["total_time"],
    }
    for key in ("meter_id", "total_parking_time", "remark"):
        if key in cdr:
            rendered[key] = cdr[key]
    rendered["last_updated"] = cdr["last_updated"]
    return rendered


def _tariff_211(tariff: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        return render_tariff_211(parse_tariff(dict(tariff)))
    except TariffConversionError as error:
        log.warning("CDR tariff has no 2.1.1 form", tariff=tariff.get("id"), error=str(error))
        return None

"""OCPP 2.0.1 payload pieces read or written by several handlers, as domain values."""

from __future__ import annotations

from typing import Any

from cpo_backend.domain.meter import SampledValue, normalise
from cpo_backend.domain.model import AuthorizationStatus, IdTokenInfo
from cpo_backend.domain.time import format_utc, parse_timestamp
from cpo_backend.domain.txevents import TransactionEventReport

# Token type of a station that charges without authorization; its idToken is empty.
NO_AUTHORIZATION = "NoAuthorization"
SIGNED_DATA = "SignedData"


def id_token_value(id_token: dict[str, Any] | None) -> str | None:
    """The token string we look up; None when there is none to look up."""
    if id_token is None or id_token["type"] == NO_AUTHORIZATION or not id_token["idToken"]:
        return None
    value: str = id_token["idToken"]
    return value


def id_token_info(info: IdTokenInfo) -> dict[str, Any]:
    """Our token verdict as an IdTokenInfoType; 2.0.1 knows every status we have."""
    payload: dict[str, Any] = {"status": info.status.value}
    if info.expiry_date is not None:
        payload["cacheExpiryDateTime"] = format_utc(info.expiry_date)
    if info.group_id is not None:
        payload["groupIdToken"] = {"idToken": info.group_id[:36], "type": "Central"}
    return payload


ACCEPTED_INFO = IdTokenInfo(status=AuthorizationStatus.ACCEPTED)


def sampled_values(meter_value: dict[str, Any]) -> list[SampledValue]:
    """Normalised samples of one MeterValueType.

    A signed sample keeps its numeric value (2.0.1 sends both) and stores the signed
    data as the raw value, with format ``SignedData``, as the evidence to show.
    """
    sampled_at = parse_timestamp(meter_value["timestamp"])
    samples = []
    for sample in meter_value["sampledValue"]:
        unit = sample.get("unitOfMeasure")
        normalised = normalise(
            sampled_at=sampled_at,
            raw_value=str(sample["value"]),
            measurand=sample.get("measurand"),
            # The schema's default unit applies once a unitOfMeasure is given.
            unit=unit.get("unit", "Wh") if unit is not None else None,
            phase=sample.get("phase"),
            location=sample.get("location"),
            context=sample.get("context"),
            value_format=None,
            multiplier=unit.get("multiplier", 0) if unit is not None else 0,
        )
        signed = sample.get("signedMeterValue")
        if signed is not None:
            normalised = normalised._replace(
                raw_value=signed["signedMeterData"], value_format=SIGNED_DATA
            )
        samples.append(normalised)
    return samples


def transaction_event(station_id: str, payload: dict[str, Any]) -> TransactionEventReport:
    info = payload["transactionInfo"]
    evse = payload.get("evse") or {}
    return TransactionEventReport(
        station_id=station_id,
        charger_transaction_id=info["transactionId"],
        seq_no=payload["seqNo"],
        event_type=payload["eventType"],
        trigger_reason=payload["triggerReason"],
        timestamp=parse_timestamp(payload["timestamp"]),
        charging_state=info.get("chargingState"),
        stopped_reason=info.get("stoppedReason"),
        offline=payload.get("offline", False),
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
        id_token=id_token_value(payload.get("idToken")),
        number_of_phases_used=payload.get("numberOfPhasesUsed"),
        cable_max_current=payload.get("cableMaxCurrent"),
        reservation_id=payload.get("reservationId"),
        remote_start_id=info.get("remoteStartId"),
        samples=[s for value in payload.get("meterValue") or [] for s in sampled_values(value)],
    )

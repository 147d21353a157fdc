"""Real-time authorization: asking a token's eMSP whether its driver may charge here.

``POST {tokens Sender URL}/{uid}/authorize?type=...`` with the LocationReferences of the
station's EVSEs; no answer within ``ocpi.authorize_timeout`` is None, and the domain's
whitelist rules decide (see ``roaming/partner_tokens.py``).

The authorizer is built before the rest of the OCPI interface (see ``ocpi/app.py:
PartnerCalls``): the domain's token service asks it, and OCPI's sessions and commands
need the domain's transactions, which need that token service. So it is given the few
things it works with, not the :class:`~cpo_backend.ocpi.context.OcpiContext`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from pydantic import ValidationError

from cpo_backend.config import OcpiSettings
from cpo_backend.domain.model import AuthorizationStatus
from cpo_backend.domain.time import format_utc, utc_now
from cpo_backend.ocpi.context import (
    VERSION,
    AuthorizationReferences,
    partner_party,
    reaching,
)
from cpo_backend.ocpi.tokens import Token
from cpo_backend.ocpi.transport.client import OcpiClient, PartnerCallFailed, PartnerReply
from cpo_backend.ocpi.transport.envelope import OcpiError, StatusCode
from cpo_backend.ocpi.transport.headers import Party
from cpo_backend.ocpi.transport.pagination import parse_datetime
from cpo_backend.roaming.locations import LocationService
from cpo_backend.roaming.partner_tokens import IssuedToken, PartnerToken, UnknownTokenVerdict
from cpo_backend.roaming.partners import Partner, PartnerService, PartnerStatus

log = structlog.get_logger(__name__)

ALLOWED_TO_STATUS = {
    "ALLOWED": AuthorizationStatus.ACCEPTED,
    "BLOCKED": AuthorizationStatus.BLOCKED,
    "EXPIRED": AuthorizationStatus.EXPIRED,
    "NO_CREDIT": AuthorizationStatus.NO_CREDIT,
    "NOT_ALLOWED": AuthorizationStatus.NOT_AT_THIS_LOCATION,
}


class OcpiRealtimeAuthorizer:
    def __init__(
        self,
        settings: OcpiSettings,
        partners: PartnerService,
        locations: LocationService,
        client: OcpiClient,
        references: AuthorizationReferences,
    ) -> None:
        self._settings = settings
        self._partners = partners
        self._locations = locations
        self._client = client
        # Written here, taken by the session the authorized start makes (ocpi/sessions.py).
        self._references = references

    async def authorize(
        self, token: PartnerToken, station_id: str | None, evse_id: int | None = None
    ) -> AuthorizationStatus | None:
        owner = Party(token.country_code.upper(), token.party_id.upper())
        # The token's eMSP, or the hub it is behind (then addressed by OCPI-to).
        partner = reaching(await self._askable(), owner)
        if partner is None:
            return None
        where = await self._location_references(station_id, evse_id)
        reply = await self._ask(partner, token.uid, token.type, owner, where)
        if reply is None:
            return None
        if reply.status_code == StatusCode.UNKNOWN_TOKEN:
            return AuthorizationStatus.INVALID
        if not reply.ok:
            return None
        return self._verdict(token.uid, station_id, reply.data)

    async def authorize_unknown(
        self, uid: str, station_id: str | None, evse_id: int | None = None
    ) -> UnknownTokenVerdict | None:
        """Ask every eMSP and hub at once (when ``authorize_unknown_tokens`` is set); the
        first that knows the token decides, and if it allows it, its token comes with the
        verdict (the AuthorizationInfo's, or one standing for it when the answer has none,
        as in 2.1.1), to be stored so that the session and CDR go to it."""
        if not self._settings.authorize_unknown_tokens:
            return None
        partners = [
            p
            for p in await self._askable()
            if any(r.get("role") in ("EMSP", "HUB") for r in p.roles)
        ]
        where = await self._location_references(station_id, evse_id)
        replies = await asyncio.gather(
            *(self._ask(p, uid, "RFID", partner_party(p), where) for p in partners)
        )
        for partner, reply in zip(partners, replies, strict=True):
            if reply is None or not reply.ok:
                continue
            verdict = self._verdict(uid, station_id, reply.data)
            if verdict == AuthorizationStatus.ACCEPTED:
                return UnknownTokenVerdict(verdict, _issued(partner, uid, reply.data))
            if verdict is not None:
                return UnknownTokenVerdict(verdict)
        return None

    async def _askable(self) -> list[Partner]:
        """Registered partners that take real-time authorization requests."""
        return [
            p
            for p in await self._partners.find()
            if p.status == PartnerStatus.REGISTERED and p.endpoint("tokens", "SENDER")
        ]

    async def _ask(
        self,
        partner: Partner,
        uid: str,
        token_type: str,
        to: Party | None,
        where: dict[str, Any] | None,
    ) -> PartnerReply | None:
        """One authorize request; None when the partner did not answer in time."""
        url = partner.endpoint("tokens", "SENDER") or ""
        access = await self._partners.access(partner.id)
        try:
            return await self._client.request(
                "POST",
                f"{url.rstrip('/')}/{uid}/authorize",
                access.outgoing_token or "",
                json=where,
                params={"type": token_type},
                to=to,
                routed=True,
                version=partner.version or VERSION,
                timeout=self._settings.authorize_timeout,
            )
        except PartnerCallFailed as error:
            log.warning("real-time authorization failed", uid=uid, error=str(error))
            return None

    def _verdict(self, uid: str, station_id: str | None, data: Any) -> AuthorizationStatus | None:
        """The AuthorizationInfo's answer; its reference is kept for the session it leads to."""
        info = data if isinstance(data, dict) else {}
        reference = info.get("authorization_reference")
        if station_id is not None and isinstance(reference, str):
            self._references[(uid, station_id)] = reference[:36]
        return ALLOWED_TO_STATUS.get(str(info.get("allowed")))

    async def _location_references(
        self, station_id: str | None, evse_id: int | None
    ) -> dict[str, Any] | None:
        """Where the driver is: the EVSE bound to (station, OCPP EVSE ``evse_id``) when
        known, else the location of the station's first bound EVSE with all the station's
        EVSEs there; None when the station has no EVSE in our catalogue."""
        if station_id is None:
            return None
        evses = await self._locations.evse_bindings_of_station(station_id)
        for location_id, uid, ocpp_evse_id in evses:
            if evse_id is not None and ocpp_evse_id == evse_id:
                return {"location_id": location_id, "evse_uids": [uid]}
        if not evses:
            return None
        location_id = evses[0][0]
        return {
            "location_id": location_id,
            "evse_uids": [uid for loc, uid, _ in evses if loc == location_id],
        }


def _issued(partner: Partner, uid: str, data: Any) -> IssuedToken:
    """The token an allowing answer carries, or one standing for it."""
    given = data.get("token") if isinstance(data, dict) else None
    try:
        token = Token.model_validate(given).model_dump(exclude_none=True)
    except ValidationError:
        party = partner_party(partner) or Party("", "")
        token = {
            "country_code": party.country_code,
            "party_id": party.party_id,
            "uid": uid,
            "type": "RFID",
            "contract_id": uid,
            "issuer": str(partner.roles[0].get("business_details", {}).get("name", "")),
            "valid": True,
            # Known only from this answer: ask again next time.
            "whitelist": "NEVER",
            "last_updated": format_utc(utc_now()),
        }
    try:
        stamp = parse_datetime("last_updated", str(token["last_updated"])) or utc_now()
    except OcpiError:  # the eMSP's timestamp is unusable: ours, then
        stamp = utc_now()
    return IssuedToken(token, stamp)

"""Real-time authorization: asking a token's eMSP whether its driver may charge here.

``POST {tokens Sender URL}/{uid}/authorize?type=...`` with the LocationReferences of the
station's EVSEs; no answer within ``ocpi.authorize_timeout`` is None, and the domain's
whitelist rules decide (see ``domain/partner_tokens.py``).
"""

from __future__ import annotations

from typing import Any

import structlog

from cpo_backend.domain.model import AuthorizationStatus
from cpo_backend.domain.partner_tokens import PartnerToken
from cpo_backend.domain.partners import PartnerStatus
from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.transport.client import PartnerCallFailed
from cpo_backend.ocpi.transport.envelope import StatusCode
from cpo_backend.ocpi.transport.headers import Party

log = structlog.get_logger(__name__)

ALLOWED_TO_STATUS = {
    "ALLOWED": AuthorizationStatus.ACCEPTED,
    "BLOCKED": AuthorizationStatus.BLOCKED,
    "EXPIRED": AuthorizationStatus.EXPIRED,
    "NO_CREDIT": AuthorizationStatus.NO_CREDIT,
    "NOT_ALLOWED": AuthorizationStatus.NOT_AT_THIS_LOCATION,
}


class OcpiRealtimeAuthorizer:
    def __init__(self, ctx: OcpiContext) -> None:
        self._ctx = ctx

    async def authorize(
        self, token: PartnerToken, station_id: str | None
    ) -> AuthorizationStatus | None:
        ctx = self._ctx
        owner = Party(token.country_code.upper(), token.party_id.upper())
        for partner in await ctx.partners.find():
            parties = {
                Party(str(r.get("country_code", "")).upper(), str(r.get("party_id", "")).upper())
                for r in partner.roles
            }
            url = partner.endpoint("tokens", "SENDER")
            if partner.status != PartnerStatus.REGISTERED or owner not in parties or not url:
                continue
            access = await ctx.partners.access(partner.id)
            body = await self._location_references(station_id)
            try:
                reply = await ctx.client.request(
                    "POST",
                    f"{url.rstrip('/')}/{token.uid}/authorize",
                    access.outgoing_token or "",
                    json=body,
                    params={"type": token.type},
                    to=owner,
                    routed=True,
                    timeout=ctx.settings.authorize_timeout,
                )
            except PartnerCallFailed as error:
                log.warning("real-time authorization failed", uid=token.uid, error=str(error))
                return None
            if reply.status_code == StatusCode.UNKNOWN_TOKEN:
                return AuthorizationStatus.INVALID
            allowed = reply.data.get("allowed") if isinstance(reply.data, dict) else None
            return ALLOWED_TO_STATUS.get(str(allowed)) if reply.ok else None
        return None

    async def _location_references(self, station_id: str | None) -> dict[str, Any] | None:
        if station_id is None:
            return None
        evses = await self._ctx.locations.evses_of_station(station_id)
        if not evses:
            return None
        location_id = evses[0][0]
        return {
            "location_id": location_id,
            "evse_uids": [uid for loc, uid in evses if loc == location_id],
        }

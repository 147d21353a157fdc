"""Who is calling: the credentials token in the Authorization header.

Token A (handed out before registration) opens only versions and credentials; the
functional modules need the token of a registered partner. Anything else is HTTP 401.

Being registered is not enough to touch an object a partner owns (its tokens, the
parties named in its commands): :func:`require_owner` is the one check of that, used by
every Receiver route that names a party.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select

from cpo_backend.db.tables_ocpi import ClientInfoRow
from cpo_backend.ocpi.context import (
    OcpiContext,
    PartnerHeard,
    context,
    parties_of,
    partner_heard,
    partner_party,
)
from cpo_backend.ocpi.transport.auth import token_candidates
from cpo_backend.ocpi.transport.envelope import OcpiError, StatusCode
from cpo_backend.ocpi.transport.headers import Party, mark_routed
from cpo_backend.roaming.partners import PartnerAccess, PartnerStatus

Context = Annotated[OcpiContext, Depends(context)]
Heard = Annotated[PartnerHeard, Depends(partner_heard)]


@dataclass(frozen=True, slots=True)
class Caller:
    access: PartnerAccess
    # The caller presented its token A: it may only register.
    with_token_a: bool

    @property
    def registered(self) -> bool:
        return self.access.partner.status == PartnerStatus.REGISTERED and not self.with_token_a


def _unauthorized(message: str) -> OcpiError:
    return OcpiError(StatusCode.CLIENT_ERROR, message, http_status=401)


async def configuration_caller(request: Request, ctx: Context, heard: Heard) -> Caller:
    """Versions and credentials: token A or the partner's credentials token."""
    header = request.headers.get("Authorization")
    if not header:
        raise _unauthorized("Missing Authorization header")
    for token in token_candidates(header):
        access = await ctx.partners.by_token(token)
        if access is not None:
            await heard(access.partner.id)
            return Caller(access, with_token_a=access.token_a == token)
    raise _unauthorized("Unknown credentials token")


async def module_caller(
    request: Request, ctx: Context, caller: Annotated[Caller, Depends(configuration_caller)]
) -> PartnerAccess:
    """Functional modules: registered partners only; the response gets routing headers."""
    if not caller.registered:
        raise _unauthorized("Credentials token not valid for this module")
    mark_routed(request, ctx.us, partner_party(caller.access.partner))
    request.state.ocpi_partner = caller.access
    return caller.access


async def module_caller_211(
    request: Request, caller: Annotated[Caller, Depends(configuration_caller)]
) -> PartnerAccess:
    """OCPI 2.1.1 functional modules: registered partners only; 2.1.1 has no routing."""
    if not caller.registered:
        raise _unauthorized("Credentials token not valid for this module")
    request.state.ocpi_partner = caller.access
    return caller.access


def calling_partner(request: Request) -> PartnerAccess:
    """The partner a module dependency admitted (for routers shared by versions)."""
    access: PartnerAccess = request.state.ocpi_partner
    return access


def relays_for(access: PartnerAccess, owner: Party, sender: Party | None) -> bool:
    """False when the request says it comes from (OCPI-from) a party other than the
    object's owner and other than the partner itself: a hub relays for one party behind it
    at a time, and that party may not reach its neighbours' objects through the hub."""
    if sender is None or sender == owner:
        return True
    return sender in parties_of(access.partner)


async def owned_by(
    ctx: OcpiContext, access: PartnerAccess, owner: Party, sender: Party | None = None
) -> bool:
    """Whether ``owner`` is the calling partner: one of the roles in its credentials, or,
    for a hub, a party it reported behind it (hubclientinfo) that is not itself a
    registered partner of ours (that party speaks for itself). ``sender`` is the
    request's OCPI-from party (None in 2.1.1, which has no routing: own roles only)."""
    owner = Party(owner.country_code.upper(), owner.party_id.upper())
    if not relays_for(access, owner, sender):
        return False
    partner = access.partner
    if owner in parties_of(partner):
        return True
    if not any(role.get("role") == "HUB" for role in partner.roles):
        return False
    reported = await ctx.db.fetch_one(
        select(ClientInfoRow.party_id).where(
            ClientInfoRow.country_code == owner.country_code,
            ClientInfoRow.party_id == owner.party_id,
            ClientInfoRow.hub_partner_id == partner.id,
        )
    )
    if reported is None:
        return False
    return not any(
        other.id != partner.id
        and other.status == PartnerStatus.REGISTERED
        and owner in parties_of(other)
        for other in await ctx.partners.find()
    )


async def require_owner(
    ctx: OcpiContext, access: PartnerAccess, owner: Party, sender: Party | None = None
) -> None:
    """Refuse a request about an object of a party that is not the caller's.

    Answered as an unknown object (HTTP 404, status 2003) whether or not the object
    exists, so that a partner learns nothing of another's objects, and checked before
    anything is read or written.
    """
    if not await owned_by(ctx, access, owner, sender):
        raise OcpiError(
            StatusCode.UNKNOWN_LOCATION,
            f"Unknown object: party {owner.country_code}/{owner.party_id} "
            "is not one of the calling partner's",
            http_status=404,
        )


ConfigurationCaller = Annotated[Caller, Depends(configuration_caller)]
ModuleCaller = Annotated[PartnerAccess, Depends(module_caller)]

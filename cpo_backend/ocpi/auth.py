"""Who is calling: the credentials token in the Authorization header.

Token A (handed out before registration) opens only versions and credentials; the
functional modules need the token of a registered partner. Anything else is HTTP 401.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from cpo_backend.domain.partners import PartnerAccess, PartnerStatus
from cpo_backend.ocpi.context import OcpiContext, context, partner_party
from cpo_backend.ocpi.transport.auth import token_candidates
from cpo_backend.ocpi.transport.envelope import OcpiError, StatusCode
from cpo_backend.ocpi.transport.headers import mark_routed

Context = Annotated[OcpiContext, Depends(context)]


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


async def configuration_caller(request: Request, ctx: Context) -> Caller:
    """Versions and credentials: token A or the partner's credentials token."""
    header = request.headers.get("Authorization")
    if not header:
        raise _unauthorized("Missing Authorization header")
    for token in token_candidates(header):
        access = await ctx.partners.by_token(token)
        if access is not None:
            if ctx.partner_heard is not None:
                await ctx.partner_heard(access.partner.id)
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


ConfigurationCaller = Annotated[Caller, Depends(configuration_caller)]
ModuleCaller = Annotated[PartnerAccess, Depends(module_caller)]

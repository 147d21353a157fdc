"""The credentials module (both roles, one endpoint): register, re-token, unregister.

POST is for a caller holding token A, PUT and DELETE for a registered partner; the
wrong method for the caller's state is HTTP 405, as the spec requires. One router per
OCPI version: they differ only in the Credentials object's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body

from cpo_backend.ocpi.auth import Caller, ConfigurationCaller, Context
from cpo_backend.ocpi.context import VERSION, OcpiContext
from cpo_backend.ocpi.registration import Credentials, Credentials211, accept_credentials
from cpo_backend.ocpi.transport.envelope import OcpiError, OcpiResponse, StatusCode, ocpi_response
from cpo_backend.ocpi.transport.validation import validated
from cpo_backend.roaming.partners import PartnerStatus

Json = Annotated[dict[str, Any], Body()]


def _not_allowed(message: str) -> OcpiError:
    return OcpiError(StatusCode.CLIENT_ERROR, message, http_status=405)


def credentials_router(
    version: str,
    model: type[Credentials] | type[Credentials211],
    ours: Callable[[OcpiContext, str], dict[str, Any]],
) -> APIRouter:
    """``model`` parses the partner's Credentials, ``ours`` renders ours with a token."""
    router = APIRouter(prefix="/credentials")

    async def exchange(ctx: OcpiContext, caller: Caller, body: dict[str, Any]) -> OcpiResponse:
        token = await accept_credentials(ctx, caller.access, validated(model, body), version)
        return ocpi_response(ours(ctx, token))

    @router.get("")
    async def get_credentials(ctx: Context, caller: ConfigurationCaller) -> OcpiResponse:
        token = caller.access.incoming_token if caller.registered else caller.access.token_a
        return ocpi_response(ours(ctx, token or ""))

    @router.post("")
    async def register(ctx: Context, caller: ConfigurationCaller, body: Json) -> OcpiResponse:
        if caller.registered or caller.access.partner.status == PartnerStatus.REGISTERED:
            raise _not_allowed("Already registered: use PUT to update the credentials")
        return await exchange(ctx, caller, body)

    @router.put("")
    async def update(ctx: Context, caller: ConfigurationCaller, body: Json) -> OcpiResponse:
        if not caller.registered:
            raise _not_allowed("Not registered: use POST to register")
        return await exchange(ctx, caller, body)

    @router.delete("")
    async def unregister(ctx: Context, caller: ConfigurationCaller) -> OcpiResponse:
        if not caller.registered:
            raise _not_allowed("Not registered")
        await ctx.partners.unregister(caller.access.partner.id)
        return ocpi_response(None)

    return router


router = credentials_router(VERSION, Credentials, OcpiContext.credentials)

"""The tokens module of OCPI 2.1.1, Receiver side: eMSPs push their drivers' tokens.

A 2.1.1 Token has no owner fields (the URL names the owner) and calls the contract
``auth_id``; it is stored as the 2.2.1 Token it corresponds to, so that chargers'
authorizations treat tokens of both versions alike. There is no ``type`` parameter in
2.1.1: a PUT takes the body's type, a GET or PATCH finds the RFID token before another.
The URL's party must be the caller's own (2.1.1 has no hubs): else the token is unknown
(404, 2003).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field

from cpo_backend.ocpi.auth import Context, module_caller_211, require_owner
from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.tokens import TokenKey, store_token
from cpo_backend.ocpi.transport.envelope import OcpiError, OcpiResponse, StatusCode, ocpi_response
from cpo_backend.ocpi.transport.headers import Party
from cpo_backend.ocpi.transport.validation import validated
from cpo_backend.roaming.partner_tokens import PartnerToken, PartnerTokenNotFound
from cpo_backend.roaming.partners import PartnerAccess

router = APIRouter(prefix="/tokens")

Caller = Annotated[PartnerAccess, Depends(module_caller_211)]
Json = Annotated[dict[str, Any], Body()]
FIELDS = ("uid", "type", "visual_number", "issuer", "valid", "whitelist", "language")
TYPES = ("RFID", "OTHER")


class Token211(BaseModel):
    """The OCPI 2.1.1 Token object; unknown fields are kept."""

    model_config = ConfigDict(extra="allow")

    uid: str = Field(min_length=1, max_length=36)
    type: Literal["OTHER", "RFID"]
    auth_id: str = Field(min_length=1, max_length=36)
    visual_number: str | None = Field(default=None, max_length=64)
    issuer: str = Field(max_length=64)
    valid: bool
    whitelist: Literal["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"]
    language: str | None = Field(default=None, max_length=2)
    last_updated: str


def token_as_221(token: Token211, owner: Party) -> dict[str, Any]:
    """The 2.2.1 Token a 2.1.1 one stands for, owned by ``owner``."""
    data = token.model_dump(exclude_none=True)
    data["contract_id"] = data.pop("auth_id")
    return {"country_code": owner.country_code, "party_id": owner.party_id} | data


def render_token_211(details: dict[str, Any]) -> dict[str, Any]:
    rendered = {key: details[key] for key in FIELDS if details.get(key) is not None}
    rendered["auth_id"] = details["contract_id"]
    rendered["last_updated"] = details["last_updated"]
    return rendered


async def _stored(ctx: OcpiContext, owner: Party, uid: str) -> PartnerToken:
    for token_type in TYPES:
        try:
            return await ctx.partner_tokens.get(owner.country_code, owner.party_id, uid, token_type)
        except PartnerTokenNotFound:
            continue
    raise OcpiError(StatusCode.UNKNOWN_TOKEN, "Unknown token", http_status=404)


PATH = "/{country_code}/{party_id}/{uid}"


async def token_owner(ctx: Context, caller: Caller, country_code: str, party_id: str) -> Party:
    """The URL's owner, once it is known to be the caller: every route names its owner
    through this dependency, so none can skip the check."""
    owner = Party(country_code, party_id)
    await require_owner(ctx, caller, owner)
    return owner


Owner = Annotated[Party, Depends(token_owner)]


@router.get(PATH)
async def get_token(ctx: Context, owner: Owner, uid: str) -> OcpiResponse:
    token = await _stored(ctx, owner, uid)
    return ocpi_response(render_token_211(token.details))


@router.put(PATH)
async def put_token(ctx: Context, owner: Owner, uid: str, body: Json) -> OcpiResponse:
    token = validated(Token211, body)
    key = TokenKey(owner.country_code, owner.party_id, uid, token.type)
    created = await store_token(ctx, token_as_221(token, owner), key)
    return ocpi_response(None, http_status=201 if created else 200)


@router.patch(PATH)
async def patch_token(ctx: Context, owner: Owner, uid: str, body: Json) -> OcpiResponse:
    if "last_updated" not in body:
        raise OcpiError(StatusCode.INVALID_PARAMETERS, "PATCH must contain last_updated")
    stored = await _stored(ctx, owner, uid)
    token = validated(Token211, render_token_211(stored.details) | body)
    key = TokenKey(owner.country_code, owner.party_id, uid, stored.type)
    await store_token(ctx, token_as_221(token, owner), key)
    return ocpi_response(None)

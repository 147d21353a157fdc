"""The tokens module, Receiver interface: eMSPs push their drivers' tokens to us.

Tokens are client-owned objects: the URL names the owner and the token, and must agree
with the body (status 2001 otherwise). PATCH must carry ``last_updated``. The owner must
be the caller (or a party behind it, for a hub): another partner's token is unknown
(404, 2003), for GET, PUT and PATCH alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cpo_backend.ocpi.auth import Context, ModuleCaller, require_owner
from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.transport.envelope import OcpiError, OcpiResponse, StatusCode, ocpi_response
from cpo_backend.ocpi.transport.headers import Party, request_sender
from cpo_backend.ocpi.transport.pagination import parse_datetime, require_datetime
from cpo_backend.ocpi.transport.validation import validated
from cpo_backend.roaming.partner_tokens import PartnerToken, PartnerTokenNotFound

router = APIRouter(prefix="/tokens")

TokenType = Literal["AD_HOC_USER", "APP_USER", "OTHER", "RFID"]
TypeParam = Annotated[TokenType, Query()]
KEY_FIELDS = ("country_code", "party_id", "uid", "type")


class Token(BaseModel):
    """The OCPI 2.2.1 Token object, as far as we check it; unknown fields are kept."""

    model_config = ConfigDict(extra="allow")

    country_code: str = Field(min_length=2, max_length=2)
    party_id: str = Field(min_length=3, max_length=3)
    uid: str = Field(min_length=1, max_length=36)
    type: TokenType
    contract_id: str = Field(min_length=1, max_length=36)
    visual_number: str | None = Field(default=None, max_length=64)
    issuer: str = Field(max_length=64)
    group_id: str | None = Field(default=None, max_length=36)
    valid: bool
    whitelist: Literal["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"]
    language: str | None = Field(default=None, max_length=2)
    default_profile_type: str | None = None
    energy_contract: dict[str, Any] | None = None
    last_updated: str


def _invalid(message: str) -> OcpiError:
    return OcpiError(StatusCode.INVALID_PARAMETERS, message)


def _checked(data: dict[str, Any], url_key: tuple[str, str, str, str]) -> Token:
    token = validated(Token, data)
    body_key = tuple(getattr(token, name) for name in KEY_FIELDS)
    if tuple(k.upper() for k in body_key) != tuple(k.upper() for k in url_key):
        raise _invalid("country_code, party_id, uid and type must match the URL")
    parse_datetime("last_updated", token.last_updated)
    return token


@dataclass(frozen=True, slots=True)
class TokenKey:
    """Which token a request is about: the URL segments and the ``type`` parameter."""

    country_code: str
    party_id: str
    uid: str
    type: str

    def as_tuple(self) -> tuple[str, str, str, str]:
        return (self.country_code, self.party_id, self.uid, self.type)


async def token_key(
    request: Request,
    ctx: Context,
    caller: ModuleCaller,
    country_code: str,
    party_id: str,
    uid: str,
    type: TypeParam = "RFID",
) -> TokenKey:
    """The token a request is about, once its owner is known to be the caller: every
    route names its token through this dependency, so none can skip the check."""
    await require_owner(ctx, caller, Party(country_code, party_id), request_sender(request.headers))
    return TokenKey(country_code, party_id, uid, type)


Key = Annotated[TokenKey, Depends(token_key)]
Json = Annotated[dict[str, Any], Body()]


async def _stored(ctx: OcpiContext, key: TokenKey) -> PartnerToken:
    try:
        return await ctx.partner_tokens.get(*key.as_tuple())
    except PartnerTokenNotFound:
        raise OcpiError(StatusCode.UNKNOWN_TOKEN, "Unknown token", http_status=404) from None


async def store_token(ctx: OcpiContext, data: dict[str, Any], key: TokenKey) -> bool:
    """Check a 2.2.1 Token against the URL's key and store it; True if it is new."""
    token = _checked(data, key.as_tuple())
    stamp = require_datetime("last_updated", token.last_updated)
    return await ctx.partner_tokens.put(token.model_dump(exclude_none=True), stamp)


PATH = "/{country_code}/{party_id}/{uid}"


@router.get(PATH)
async def get_token(ctx: Context, _caller: ModuleCaller, key: Key) -> OcpiResponse:
    return ocpi_response((await _stored(ctx, key)).details)


@router.put(PATH)
async def put_token(ctx: Context, _caller: ModuleCaller, key: Key, body: Json) -> OcpiResponse:
    created = await store_token(ctx, body, key)
    return ocpi_response(None, http_status=201 if created else 200)


@router.patch(PATH)
async def patch_token(ctx: Context, _caller: ModuleCaller, key: Key, body: Json) -> OcpiResponse:
    if "last_updated" not in body:
        raise _invalid("PATCH must contain last_updated")
    await store_token(ctx, (await _stored(ctx, key)).details | body, key)
    return ocpi_response(None)

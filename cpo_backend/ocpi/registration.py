"""The credentials handshake, in both directions.

*They register with us*: a partner holding a token A we issued POSTs its credentials
(its token B, its versions URL, its roles); we fetch its version details with token B,
store them and answer with a fresh token C. *We register with them*: given their
versions URL and a token A, we fetch their details with token A, POST our credentials
with a token B they will use, and keep the token C they answer with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from pydantic import BaseModel, Field, ValidationError

from cpo_backend.ocpi.context import VERSION, VERSION_211, OcpiContext, credentials_211
from cpo_backend.ocpi.transport.client import PartnerCallFailed
from cpo_backend.ocpi.transport.envelope import OcpiError, StatusCode
from cpo_backend.roaming.partners import (
    Partner,
    PartnerAccess,
    PartnerStatus,
    RegistrationFailed,
    new_credentials_token,
)

log = structlog.get_logger(__name__)


class BusinessDetails(BaseModel):
    name: str = Field(max_length=100)
    website: str | None = None
    logo: dict[str, Any] | None = None


class CredentialsRole(BaseModel):
    role: str
    business_details: BusinessDetails
    party_id: str = Field(min_length=3, max_length=3)
    country_code: str = Field(min_length=2, max_length=2)


TOKEN = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")


class Credentials(BaseModel):
    token: str = TOKEN
    url: str = Field(min_length=1)
    roles: list[CredentialsRole] = Field(min_length=1)

    def roles_json(self) -> list[dict[str, Any]]:
        return [role.model_dump(exclude_none=True) for role in self.roles]


class Credentials211(BaseModel):
    """OCPI 2.1.1: one party per credentials object, no role (an eMSP, for a CPO)."""

    token: str = TOKEN
    url: str = Field(min_length=1)
    business_details: BusinessDetails
    party_id: str = Field(min_length=3, max_length=3)
    country_code: str = Field(min_length=2, max_length=2)

    def roles_json(self) -> list[dict[str, Any]]:
        role = CredentialsRole(
            role="EMSP",
            business_details=self.business_details,
            party_id=self.party_id,
            country_code=self.country_code,
        )
        return [role.model_dump(exclude_none=True)]


# The versions we register in, best first.
SPOKEN = (VERSION, VERSION_211)


async def fetch_endpoints(
    ctx: OcpiContext, versions_url: str, token: str, versions: tuple[str, ...] = (VERSION,)
) -> tuple[str, list[dict[str, Any]]]:
    """The partner's endpoints in the first of ``versions`` it offers, and that version.

    The versions list is asked with the token Base64-encoded (2.2.1) and, if the partner
    answers 401, once more with it plain: a 2.1.1-only platform knows no encoding, and
    which it is cannot be known before its versions list is read.
    """
    try:
        listed = await ctx.client.request("GET", versions_url, token, version=VERSION)
        if listed.http_status == 401 and VERSION_211 in versions:
            listed = await ctx.client.request("GET", versions_url, token, version=VERSION_211)
        if not listed.ok or not isinstance(listed.data, list):
            raise RegistrationFailed(
                StatusCode.UNABLE_TO_USE_CLIENT_API,
                f"versions endpoint answered {listed.http_status}/{listed.status_code}",
            )
        offered = {str(v.get("version")): v.get("url") for v in listed.data if isinstance(v, dict)}
        version = next((v for v in versions if offered.get(v)), None)
        if version is None:
            raise RegistrationFailed(
                StatusCode.UNSUPPORTED_VERSION, f"partner has none of {', '.join(versions)}"
            )
        details = await ctx.client.request("GET", str(offered[version]), token, version=version)
    except PartnerCallFailed as error:
        raise RegistrationFailed(StatusCode.UNABLE_TO_USE_CLIENT_API, str(error)) from None
    endpoints = details.data.get("endpoints") if isinstance(details.data, dict) else None
    if not details.ok or not isinstance(endpoints, list):
        raise RegistrationFailed(
            StatusCode.UNABLE_TO_USE_CLIENT_API,
            f"version details answered {details.http_status}/{details.status_code}",
        )
    if not any(isinstance(e, dict) and e.get("identifier") == "credentials" for e in endpoints):
        raise RegistrationFailed(StatusCode.NO_MATCHING_ENDPOINTS, "no credentials endpoint")
    return version, [e for e in endpoints if isinstance(e, dict)]


async def accept_credentials(
    ctx: OcpiContext,
    access: PartnerAccess,
    credentials: Credentials | Credentials211,
    version: str = VERSION,
) -> str:
    """POST or PUT from a partner: fetch its endpoints, store; the new token C."""
    await _check_roles(ctx, access, credentials.roles_json())
    try:
        _, endpoints = await fetch_endpoints(ctx, credentials.url, credentials.token, (version,))
    except RegistrationFailed as error:
        raise OcpiError(StatusCode(error.ocpi_status), str(error)) from None
    token_c = new_credentials_token()
    await ctx.partners.update(
        access.partner.id,
        status=PartnerStatus.REGISTERED,
        token_a=None,
        incoming_token=token_c,
        outgoing_token=credentials.token,
        version=version,
        versions_url=credentials.url,
        roles=credentials.roles_json(),
        endpoints=endpoints,
    )
    return token_c


# Per version: our Credentials object, and the model that reads the partner's.
CREDENTIALS: dict[
    str,
    tuple[Callable[[OcpiContext, str], dict[str, Any]], type[Credentials] | type[Credentials211]],
] = {
    VERSION: (OcpiContext.credentials, Credentials),
    VERSION_211: (credentials_211, Credentials211),
}


def _role_keys(roles: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (str(r.get("role")), str(r.get("country_code")).upper(), str(r.get("party_id")).upper())
        for r in roles
    ]


async def _check_roles(
    ctx: OcpiContext, access: PartnerAccess, roles: list[dict[str, Any]]
) -> None:
    """Every role is a unique (role, country_code, party_id), and a party registered
    through another partner cannot register again (HTTP 405, as for a second POST): the
    operator unregisters the old one first, so pushes never go to two platforms."""
    claimed = _role_keys(roles)
    if len(set(claimed)) != len(claimed):
        raise OcpiError(
            StatusCode.INVALID_PARAMETERS,
            "every role needs a unique combination of role, party_id and country_code",
        )
    for other in await ctx.partners.find():
        if other.id == access.partner.id or other.status != PartnerStatus.REGISTERED:
            continue
        taken = set(claimed) & set(_role_keys(other.roles))
        if taken:
            role, country_code, party_id = sorted(taken)[0]
            raise OcpiError(
                StatusCode.CLIENT_ERROR,
                f"{role} {country_code}*{party_id} is already registered (partner {other.id})",
                http_status=405,
            )


class OcpiRegistrar:
    """The domain's :class:`~cpo_backend.roaming.partners.Registrar`, over OCPI."""

    def __init__(self, ctx: OcpiContext) -> None:
        self._ctx = ctx

    async def register(self, versions_url: str, token_a: str) -> Partner:
        ctx = self._ctx
        version, endpoints = await fetch_endpoints(ctx, versions_url, token_a, SPOKEN)
        credentials_url = next(e["url"] for e in endpoints if e.get("identifier") == "credentials")
        token_b = new_credentials_token()
        # Stored before the POST: the partner calls our versions with token B during it.
        partner_id = await ctx.partners.create_pending(
            incoming_token=token_b, outgoing_token=token_a, versions_url=versions_url
        )
        try:
            theirs = await self._post_credentials(
                str(credentials_url), token_a, token_b, version=version
            )
        except RegistrationFailed:
            # Token B must not stay usable for a registration that did not happen.
            await ctx.partners.unregister(partner_id)
            raise
        return await self._keep_theirs(
            partner_id, theirs, version, endpoints, status=PartnerStatus.REGISTERED
        )

    async def renew(self, partner_id: int) -> Partner:
        ctx = self._ctx
        access = await self._registered(partner_id)
        url = self._credentials_url(access.partner)
        token_b = new_credentials_token()
        # The partner fetches our versions with the new token during the PUT: switch first,
        # and back if the PUT fails, since the partner then still holds the old one.
        await ctx.partners.update(partner_id, incoming_token=token_b)
        version = access.partner.version or VERSION
        try:
            theirs = await self._post_credentials(
                url, access.outgoing_token or "", token_b, "PUT", version=version
            )
        except RegistrationFailed:
            await ctx.partners.update(partner_id, incoming_token=access.incoming_token)
            raise
        version, endpoints = await fetch_endpoints(ctx, theirs.url, theirs.token, (version,))
        return await self._keep_theirs(partner_id, theirs, version, endpoints)

    async def _keep_theirs(
        self,
        partner_id: int,
        theirs: Credentials | Credentials211,
        version: str,
        endpoints: list[dict[str, Any]],
        **values: Any,
    ) -> Partner:
        """Store what the partner answered: its token for us, its roles and endpoints."""
        return await self._ctx.partners.update(
            partner_id,
            outgoing_token=theirs.token,
            version=version,
            versions_url=theirs.url,
            roles=theirs.roles_json(),
            endpoints=endpoints,
            **values,
        )

    async def unregister(self, partner_id: int) -> Partner:
        """DELETE at the partner (best effort: it may be gone), then forget the tokens."""
        access = await self._registered(partner_id)
        url = self._credentials_url(access.partner)
        try:
            await self._ctx.client.request(
                "DELETE",
                url,
                access.outgoing_token or "",
                version=access.partner.version or VERSION,
            )
        except PartnerCallFailed as error:
            log.warning("credentials DELETE failed", partner=partner_id, error=str(error))
        return await self._ctx.partners.unregister(partner_id)

    async def _registered(self, partner_id: int) -> PartnerAccess:
        access = await self._ctx.partners.access(partner_id)
        if access.partner.status != PartnerStatus.REGISTERED:
            raise RegistrationFailed(StatusCode.CLIENT_ERROR, "partner is not registered")
        return access

    @staticmethod
    def _credentials_url(partner: Partner) -> str:
        url = next(
            (e["url"] for e in partner.endpoints if e.get("identifier") == "credentials"), None
        )
        if url is None:
            raise RegistrationFailed(StatusCode.NO_MATCHING_ENDPOINTS, "no credentials endpoint")
        return str(url)

    async def _post_credentials(
        self, url: str, token: str, token_b: str, method: str = "POST", *, version: str
    ) -> Credentials | Credentials211:
        """Send our credentials (POST with token A, PUT with their token C) in
        ``version``'s shape; theirs back."""
        ours, model = CREDENTIALS[version]
        try:
            reply = await self._ctx.client.request(
                method, url, token, json=ours(self._ctx, token_b), version=version
            )
        except PartnerCallFailed as error:
            raise RegistrationFailed(StatusCode.UNABLE_TO_USE_CLIENT_API, str(error)) from None
        if not reply.ok:
            raise RegistrationFailed(
                StatusCode.UNABLE_TO_USE_CLIENT_API,
                f"credentials {method} answered {reply.http_status}/{reply.status_code}: "
                f"{reply.status_message}",
            )
        try:
            return model.model_validate(reply.data)
        except ValidationError as error:
            raise RegistrationFailed(
                StatusCode.UNABLE_TO_USE_CLIENT_API, f"bad credentials in answer: {error}"
            ) from None

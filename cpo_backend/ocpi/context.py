"""What the OCPI routes are given by the composition root, and our own identity.

Everything here is complete when built: what is known only later (our public URL, once
the HTTP listener is bound) is asked of the object that learns it, the root's
:class:`~cpo_backend.roaming.address.PublicAddress`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from cpo_backend.config import OcpiSettings
from cpo_backend.db.database import Database
from cpo_backend.domain.commands import CommandService
from cpo_backend.domain.transactions import TransactionService
from cpo_backend.ocpi.transport.client import OcpiClient
from cpo_backend.ocpi.transport.headers import Party
from cpo_backend.roaming.address import PublicAddress
from cpo_backend.roaming.locations import LocationService
from cpo_backend.roaming.partner_tokens import PartnerTokenService
from cpo_backend.roaming.partners import Partner, PartnerService
from cpo_backend.roaming.tariffs import TariffService

VERSION = "2.2.1"
VERSION_211 = "2.1.1"

# (token uid, station) -> the eMSP's authorization_reference of its last real-time
# authorization there, for the session that start makes. Kept in memory: it is only
# needed for the moments between a charger's Authorize and its start.
AuthorizationReferences = dict[tuple[str, str], str]

# Told of every authenticated request with the caller's partner id: a partner we were
# failing to reach is evidently back (the outbox retries it at once).
PartnerHeard = Callable[[int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DomainServices:
    """The domain services the OCPI side works with, as the composition root built them."""

    partners: PartnerService
    locations: LocationService
    tariffs: TariffService
    partner_tokens: PartnerTokenService
    transactions: TransactionService
    commands: CommandService


@dataclass(frozen=True, slots=True)
class OcpiContext:
    settings: OcpiSettings
    db: Database
    partners: PartnerService
    locations: LocationService
    tariffs: TariffService
    partner_tokens: PartnerTokenService
    transactions: TransactionService
    # Seconds a charger has to answer a command (CommandResponse.timeout).
    command_timeout: float
    client: OcpiClient
    address: PublicAddress
    # Shared with the real-time authorizer, which writes them (ocpi/realtime.py).
    authorization_references: AuthorizationReferences

    @property
    def us(self) -> Party:
        return Party(self.settings.country_code, self.settings.party_id)

    @property
    def public_url(self) -> str:
        return self.address.url

    @property
    def versions_url(self) -> str:
        return self.address.versions_url

    def version_url(self, version: str = VERSION) -> str:
        return f"{self.public_url}/ocpi/{version}"

    def module_url(self, module: str, version: str = VERSION) -> str:
        return f"{self.version_url(version)}/{module}"

    def credentials(self, token: str) -> dict[str, Any]:
        """Our Credentials object carrying ``token`` for the partner to use."""
        business = self.settings.business_details.model_dump(exclude_none=True)
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "CPO",
                    "party_id": self.settings.party_id,
                    "country_code": self.settings.country_code,
                    "business_details": business,
                }
            ],
        }


def credentials_211(ctx: OcpiContext, token: str) -> dict[str, Any]:
    """Our OCPI 2.1.1 Credentials object: one party, no roles."""
    role = ctx.credentials(token)["roles"][0]
    return {
        "token": token,
        "url": ctx.versions_url,
        "business_details": role["business_details"],
        "party_id": role["party_id"],
        "country_code": role["country_code"],
    }


def parties_of(partner: Partner) -> set[Party]:
    return {
        Party(str(r.get("country_code", "")).upper(), str(r.get("party_id", "")).upper())
        for r in partner.roles
    }


def reaching(partners: Iterable[Partner], owner: Party) -> Partner | None:
    """The partner through which we reach ``owner``: the one that is that party, else a
    hub (whose parties it routes to by the OCPI-to headers)."""
    candidates = list(partners)
    direct = next((p for p in candidates if owner in parties_of(p)), None)
    if direct is not None:
        return direct
    return next((p for p in candidates if any(r.get("role") == "HUB" for r in p.roles)), None)


def partner_party(partner: Partner) -> Party | None:
    """The party we address a partner's functional modules to: its first role."""
    for role in partner.roles:
        if role.get("country_code") and role.get("party_id"):
            return Party(str(role["country_code"]).upper(), str(role["party_id"]).upper())
    return None


def context(request: Request) -> OcpiContext:
    found: OcpiContext = request.app.state.ocpi
    return found


def partner_heard(request: Request) -> PartnerHeard:
    found: PartnerHeard = request.app.state.partner_heard
    return found

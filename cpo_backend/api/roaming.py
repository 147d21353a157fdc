"""What the roaming (OCPI) parts of the operator API are given by the composition root.

Passed to ``create_api``, which sets it as ``app.state.roaming``; the routes reach
``roaming/`` only, never the OCPI adapter: registering with a partner goes through the
``Registrar`` port.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from cpo_backend.roaming.address import PublicAddress
from cpo_backend.roaming.cdrs import CdrCorrections
from cpo_backend.roaming.locations import LocationService
from cpo_backend.roaming.partners import PartnerService, Registrar
from cpo_backend.roaming.tariffs import TariffService


@dataclass(frozen=True, slots=True)
class RoamingServices:
    partners: PartnerService
    locations: LocationService
    tariffs: TariffService
    registrar: Registrar
    cdrs: CdrCorrections
    # Where partners reach us; known once the HTTP listener is bound, before it serves.
    address: PublicAddress

    @property
    def versions_url(self) -> str:
        """Our OCPI versions URL, handed to a partner together with its token A."""
        return self.address.versions_url


def roaming(request: Request) -> RoamingServices:
    found: RoamingServices = request.app.state.roaming
    return found


Roaming = Annotated[RoamingServices, Depends(roaming)]

"""What the roaming (OCPI) parts of the operator API are given by the composition root.

Set as ``app.state.roaming``; the routes reach the domain only, never the OCPI adapter:
registering with a partner goes through the domain's ``Registrar`` port.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

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
    # Our OCPI versions URL, handed to a partner together with its token A.
    versions_url: str


def roaming(request: Request) -> RoamingServices:
    found: RoamingServices = request.app.state.roaming
    return found


Roaming = Annotated[RoamingServices, Depends(roaming)]

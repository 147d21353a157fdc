"""Our tariffs in the OCPI 2.1.1 shape (the pricing engine's ``render_tariff_211``).

A tariff that 2.1.1 cannot express (``TariffConversionError``) is not served to 2.1.1
partners rather than sent wrong: it is left out of the list (before paging, so pages stay
full and ``X-Total-Count`` true), not pushed, and no 2.1.1 connector names it. Those it
can express are served as published, with their AFIR price text (2.1.1 has
``tariff_alt_text`` too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from fastapi import Request

from cpo_backend.ocpi.auth import module_caller_211
from cpo_backend.ocpi.catalogue import rendered_list
from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.tariffs import tariffs_router
from cpo_backend.ocpi.transport.envelope import OcpiResponse
from cpo_backend.ocpi.transport.pagination import PageRequest
from cpo_backend.pricing import Tariff, TariffConversionError, render_tariff_211
from cpo_backend.roaming.tariffs import TariffService

log = structlog.get_logger(__name__)


def rendered_211(tariff: Tariff) -> dict[str, Any] | None:
    try:
        return render_tariff_211(tariff)
    except TariffConversionError as error:
        log.warning("tariff has no 2.1.1 form", tariff=tariff.id, error=str(error))
        return None


async def tariffs_211(
    tariffs: TariffService,
    *,
    updated_from: datetime | None = None,
    updated_to: datetime | None = None,
    alt_text_languages: Sequence[str] | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """The ids of the live tariffs in the window, and the 2.1.1 form of those 2.1.1 can
    express, both in creation order (as published, given ``alt_text_languages``)."""
    live = await tariffs.listed(
        updated_from=updated_from, updated_to=updated_to, alt_text_languages=alt_text_languages
    )
    rendered = [body for body in map(rendered_211, live) if body is not None]
    return [tariff.id for tariff in live], rendered


@dataclass(frozen=True, slots=True)
class Served211:
    """Which tariffs a 2.1.1 connector may name: the live ones, and those served in 2.1.1."""

    live: frozenset[str]
    served: frozenset[str]

    @classmethod
    async def load(cls, tariffs: TariffService) -> Served211:
        live, rendered = await tariffs_211(tariffs)
        return cls(frozenset(live), frozenset(body["id"] for body in rendered))

    def tariff_id(self, tariff_ids: Sequence[str]) -> str | None:
        """The tariff a session on the connector is priced under (its first live one), if
        2.1.1 can express it; else none. Naming the next expressible tariff instead would
        promise a price the CDR does not charge."""
        first = next((tariff_id for tariff_id in tariff_ids if tariff_id in self.live), None)
        return first if first in self.served else None


async def list_tariffs_211(request: Request, ctx: OcpiContext, page: PageRequest) -> OcpiResponse:
    _, rendered = await tariffs_211(
        ctx.tariffs,
        updated_from=page.date_from,
        updated_to=page.date_to,
        alt_text_languages=ctx.settings.tariff_alt_text_languages,
    )
    return await rendered_list(request, ctx, page, rendered)


router = tariffs_router(list_tariffs_211, module_caller_211)

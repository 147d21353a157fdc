"""Our tariffs in the OCPI 2.1.1 shape (the pricing engine's ``render_tariff_211``).

A tariff that 2.1.1 cannot express (``TariffConversionError``) is left out of the list
rather than sent wrong.
"""

from __future__ import annotations

from typing import Any

import structlog

from cpo_backend.ocpi.auth import module_caller_211
from cpo_backend.ocpi.tariffs import tariffs_router
from cpo_backend.pricing import Tariff, TariffConversionError, render_tariff_211

log = structlog.get_logger(__name__)


def rendered_211(tariff: Tariff) -> dict[str, Any] | None:
    try:
        return render_tariff_211(tariff)
    except TariffConversionError as error:
        log.warning("tariff has no 2.1.1 form", tariff=tariff.id, error=str(error))
        return None


router = tariffs_router(rendered_211, module_caller_211)

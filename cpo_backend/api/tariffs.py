"""Tariffs the operator publishes to roaming partners (OCPI 2.2.1 Tariff objects)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response, status

from cpo_backend.api.roaming import Roaming
from cpo_backend.pricing import render_tariff

router = APIRouter(prefix="/tariffs", tags=["ocpi"])

TariffId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,36}$")]


@router.get("")
async def list_tariffs(
    roaming: Roaming,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    tariffs, _total = await roaming.tariffs.page(offset=offset, limit=limit)
    return [render_tariff(tariff) for tariff in tariffs]


@router.put("/{tariff_id}")
async def put_tariff(
    roaming: Roaming, tariff_id: TariffId, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Create or replace: the OCPI Tariff fields (currency, elements ...); country_code,
    party_id, id and last_updated are ours and ignored if given."""
    return render_tariff(await roaming.tariffs.put(tariff_id, body))


@router.get("/{tariff_id}")
async def get_tariff(roaming: Roaming, tariff_id: str) -> dict[str, Any]:
    return render_tariff(await roaming.tariffs.get(tariff_id))


@router.delete("/{tariff_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_tariff(roaming: Roaming, tariff_id: str) -> Response:
    await roaming.tariffs.delete(tariff_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

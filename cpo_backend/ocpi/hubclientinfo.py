"""The hubclientinfo module, Receiver interface: a hub tells us which parties it connects.

A configuration module: no routing headers. The ClientInfo in the body must name the
party of the URL (status 2001 otherwise). A hub's ClientInfo says which parties it may act
for (``auth.owned_by``): a party another partner reported is not taken over (404, 2003),
and each partner reads back only what it reported (404 otherwise).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import insert, select, update

from cpo_backend.db.tables_ocpi import ClientInfoRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.time import format_utc
from cpo_backend.ocpi.auth import Caller, ConfigurationCaller, Context
from cpo_backend.ocpi.transport.envelope import OcpiError, OcpiResponse, StatusCode, ocpi_response
from cpo_backend.ocpi.transport.pagination import require_datetime

router = APIRouter(prefix="/hubclientinfo")


class ClientInfo(BaseModel):
    party_id: str = Field(min_length=3, max_length=3)
    country_code: str = Field(min_length=2, max_length=2)
    role: Literal["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]
    status: Literal["CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED"]
    last_updated: str


def _registered(caller: Caller) -> None:
    if not caller.registered:
        raise OcpiError(StatusCode.CLIENT_ERROR, "Not registered", http_status=401)


@router.get("/{country_code}/{party_id}")
async def get_client_info(
    ctx: Context, caller: ConfigurationCaller, country_code: str, party_id: str
) -> OcpiResponse:
    _registered(caller)
    row = await ctx.db.fetch_one(
        select(ClientInfoRow).where(
            ClientInfoRow.country_code == country_code.upper(),
            ClientInfoRow.party_id == party_id.upper(),
            ClientInfoRow.hub_partner_id == caller.access.partner.id,
        )
    )
    if row is None:
        raise OcpiError(StatusCode.CLIENT_ERROR, "Unknown party", http_status=404)
    return ocpi_response(
        {
            "party_id": row.party_id,
            "country_code": row.country_code,
            "role": row.role,
            "status": row.status,
            "last_updated": format_utc(row.last_updated),
        }
    )


@router.put("/{country_code}/{party_id}")
async def put_client_info(
    ctx: Context,
    caller: ConfigurationCaller,
    country_code: str,
    party_id: str,
    body: Annotated[dict[str, Any], Body()],
) -> OcpiResponse:
    _registered(caller)
    try:
        info = ClientInfo.model_validate(body)
    except ValidationError as error:
        raise OcpiError(StatusCode.INVALID_PARAMETERS, str(error.errors()[0]["msg"])) from None
    key = (info.country_code.upper(), info.party_id.upper())
    if key != (country_code.upper(), party_id.upper()):
        raise OcpiError(StatusCode.INVALID_PARAMETERS, "country_code/party_id must match the URL")
    values = {
        "role": info.role,
        "status": info.status,
        "hub_partner_id": caller.access.partner.id,
        "last_updated": require_datetime("last_updated", info.last_updated),
    }
    where = (ClientInfoRow.country_code == key[0], ClientInfoRow.party_id == key[1])

    async def op(tx: WriteTx) -> bool:
        found = (await tx.execute(select(ClientInfoRow.hub_partner_id).where(*where))).first()
        if found is not None and found.hub_partner_id != caller.access.partner.id:
            raise OcpiError(
                StatusCode.UNKNOWN_LOCATION,
                f"Unknown object: party {key[0]}/{key[1]} is reported by another partner",
                http_status=404,
            )
        if found is None:
            await tx.execute(
                insert(ClientInfoRow).values(country_code=key[0], party_id=key[1], **values)
            )
            return True
        await tx.execute(update(ClientInfoRow).where(*where).values(**values))
        return False

    created = await ctx.db.write(op)
    return ocpi_response(None, http_status=201 if created else 200)

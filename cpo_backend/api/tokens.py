"""Id tokens the operator manages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import AwareDatetime, BaseModel, Field

from cpo_backend.api.services import ApiServices, services
from cpo_backend.domain.model import AuthorizationStatus, IdToken

router = APIRouter(prefix="/tokens", tags=["tokens"])
Api = Annotated[ApiServices, Depends(services)]


class TokenCreate(BaseModel):
    id_token: str = Field(min_length=1, max_length=36)
    token_type: str = Field(default="ISO14443", max_length=20)
    status: AuthorizationStatus = AuthorizationStatus.ACCEPTED
    expiry_date: AwareDatetime | None = None
    group_id: str | None = Field(default=None, max_length=36)


class TokenUpdate(BaseModel):
    token_type: str | None = Field(default=None, max_length=20)
    status: AuthorizationStatus | None = None
    expiry_date: AwareDatetime | None = None
    group_id: str | None = Field(default=None, max_length=36)


@router.get("")
async def list_tokens(
    api: Api,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[IdToken]:
    return await api.tokens.find(offset=offset, limit=limit)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_token(api: Api, body: TokenCreate) -> IdToken:
    return await api.tokens.create(
        body.id_token,
        token_type=body.token_type,
        status=body.status,
        expiry_date=body.expiry_date,
        group_id=body.group_id,
    )


@router.get("/{id_token}")
async def get_token(api: Api, id_token: str) -> IdToken:
    return await api.tokens.get(id_token)


@router.patch("/{id_token}")
async def update_token(api: Api, id_token: str, body: TokenUpdate) -> IdToken:
    return await api.tokens.update(id_token, **body.model_dump(exclude_unset=True))


@router.delete("/{id_token}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_token(api: Api, id_token: str) -> Response:
    await api.tokens.delete(id_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

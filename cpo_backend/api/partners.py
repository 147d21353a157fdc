"""OCPI roaming partners: issue a token A, register with a partner, list, unregister; and
the outbox of pushes owed to them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from cpo_backend.api.roaming import Roaming
from cpo_backend.roaming.partners import (
    OutboxEntry,
    Partner,
    new_credentials_token,
)

router = APIRouter(prefix="/ocpi", tags=["ocpi"])


class TokenA(BaseModel):
    partner_id: int
    token_a: str
    versions_url: str


class RegisterRequest(BaseModel):
    versions_url: str = Field(min_length=1)
    token_a: str = Field(min_length=1, max_length=64)


@router.get("/partners")
async def list_partners(roaming: Roaming) -> list[Partner]:
    return await roaming.partners.find()


@router.post("/partners/token-a", status_code=status.HTTP_201_CREATED)
async def create_token_a(roaming: Roaming) -> TokenA:
    """A token A for a partner to register with us, and the versions URL to give with it."""
    created = await roaming.partners.create_token_a(new_credentials_token())
    return TokenA(
        partner_id=created.partner_id, token_a=created.token_a, versions_url=roaming.versions_url
    )


@router.post("/partners/register", status_code=status.HTTP_201_CREATED)
async def register(roaming: Roaming, body: RegisterRequest) -> Partner:
    """Register with a partner platform given its versions URL and the token A it issued."""
    return await roaming.registrar.register(body.versions_url, body.token_a)


@router.post("/partners/{partner_id}/renew")
async def renew(roaming: Roaming, partner_id: int) -> Partner:
    """New credentials tokens both ways and fresh endpoints (our credentials PUT)."""
    return await roaming.registrar.renew(partner_id)


@router.delete("/partners/{partner_id}")
async def unregister(roaming: Roaming, partner_id: int) -> Partner:
    """End the registration: credentials DELETE at the partner, our tokens forgotten."""
    return await roaming.registrar.unregister(partner_id)


@router.get("/partners/{partner_id}")
async def get_partner(roaming: Roaming, partner_id: int) -> Partner:
    return await roaming.partners.get(partner_id)


@router.get("/outbox")
async def list_outbox(
    roaming: Roaming,
    partner_id: int | None = None,
    state: Literal["pending", "delivered", "dropped", "superseded", "dead"] | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OutboxEntry]:
    """Pushes owed to partners (``state=pending``: with attempts and the last error;
    ``state=dead``: the pushes a partner rejected permanently, with its answer)."""
    return await roaming.partners.outbox(
        partner_id=partner_id, state=state, offset=offset, limit=limit
    )


@router.get("/outbox/{entry_id}")
async def get_outbox_entry(roaming: Roaming, entry_id: int) -> OutboxEntry:
    """One push with its body."""
    return await roaming.partners.outbox_entry(entry_id)


@router.post("/outbox/{entry_id}/retry")
async def retry_outbox_entry(roaming: Roaming, entry_id: int) -> OutboxEntry:
    """Try a pending push again now instead of after its backoff, or a dead letter again
    (in its place in its object's queue; 409 if a later push of the object was delivered
    since, which it would overwrite)."""
    return await roaming.partners.retry_now(entry_id)


@router.post("/outbox/{entry_id}/drop")
async def drop_outbox_entry(roaming: Roaming, entry_id: int) -> OutboxEntry:
    """Give up a pending push or a dead letter."""
    return await roaming.partners.drop(entry_id)

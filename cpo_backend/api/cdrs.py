"""Correcting a CDR already sent: a Credit CDR, and optionally the session billed again."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel

from cpo_backend.api.roaming import Roaming

router = APIRouter(prefix="/ocpi/cdrs", tags=["ocpi"])


class CreditRequest(BaseModel):
    # Seal the session again into a new CDR (after its tariff or meter data were fixed).
    reissue: bool = False


@router.post("/{cdr_id}/credit", status_code=status.HTTP_201_CREATED)
async def credit_cdr(roaming: Roaming, cdr_id: str, body: CreditRequest) -> dict[str, Any]:
    """Send the eMSP a Credit CDR for a CDR it received; the Credit CDR."""
    return await roaming.cdrs.credit(cdr_id, reissue=body.reissue)

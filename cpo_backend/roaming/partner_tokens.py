"""Driver tokens of roaming partners (eMSPs), and the whitelist rules for using them.

An eMSP pushes its tokens to us; a charger asking about one gets an answer by these rules
(OCPI 2.2.1 WhitelistType):

- not ``valid``: Blocked, without asking anyone;
- ``ALWAYS`` and ``ALLOWED``: Accepted from our copy (for ALLOWED we may choose, and the
  copy answers at once, which chargers prefer);
- ``ALLOWED_OFFLINE``: ask the eMSP in real time; no answer in time: Accepted;
- ``NEVER``: ask the eMSP in real time; no answer in time: Invalid.

Asking is the :class:`RealtimeAuthorizer` port, implemented by the OCPI adapter and given
to :class:`PartnerTokenService` by the composition root.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, select, update

from cpo_backend.db.database import Database
from cpo_backend.db.tables_ocpi import PartnerTokenRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.errors import NotFound
from cpo_backend.domain.model import AuthorizationStatus, IdTokenInfo, Record
from cpo_backend.domain.time import UtcTimestamp

# The Token fields kept as columns; everything else stays in ``details``.
COLUMNS = ("contract_id", "group_id", "valid", "whitelist")


class PartnerTokenNotFound(NotFound):
    noun = "partner token"


class PartnerToken(Record):
    country_code: str
    party_id: str
    uid: str
    type: str
    contract_id: str
    group_id: str | None
    valid: bool
    whitelist: str
    details: dict[str, Any]
    last_updated: UtcTimestamp


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as its eMSP gave it: a complete OCPI Token (validated) and its last update."""

    token: dict[str, Any]
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class UnknownTokenVerdict:
    """An eMSP's answer about a token no partner told us of."""

    status: AuthorizationStatus
    # The eMSP's token when it allowed the driver: stored, so that the session and the
    # CDR go to that eMSP.
    allowed: IssuedToken | None = None


class RealtimeAuthorizer(Protocol):
    """Asks the token's eMSP whether its driver may charge at ``station_id``, on the
    station's OCPP EVSE ``evse_id`` (1, 2 ...) when known; None when the eMSP could not
    answer in time. Either place may be None: the request then says less."""

    async def authorize(
        self, token: PartnerToken, station_id: str | None, evse_id: int | None = None
    ) -> AuthorizationStatus | None: ...

    async def authorize_unknown(
        self, uid: str, station_id: str | None, evse_id: int | None = None
    ) -> UnknownTokenVerdict | None:
        """A token no partner told us of: ask who may know it (None: nobody knew it, or
        asking is not wanted); an eMSP that allows it gives its token with the verdict."""
        ...


def _values(token: dict[str, Any], last_updated: datetime) -> dict[str, Any]:
    return {
        "contract_id": token["contract_id"],
        "group_id": token.get("group_id"),
        "valid": bool(token["valid"]),
        "whitelist": token["whitelist"],
        "details": token,
        "last_updated": last_updated,
    }


class PartnerTokenService:
    def __init__(self, db: Database, realtime: RealtimeAuthorizer) -> None:
        self._db = db
        self._realtime = realtime

    async def put(self, token: dict[str, Any], last_updated: datetime) -> bool:
        """Store a complete OCPI Token (already validated); True if it is new."""
        key = _key(token["country_code"], token["party_id"], token["uid"], token["type"])
        values = _values(token, last_updated)

        async def op(tx: WriteTx) -> bool:
            found = (await tx.execute(select(PartnerTokenRow.uid).where(*key))).first()
            if found is None:
                await tx.execute(
                    insert(PartnerTokenRow).values(
                        country_code=token["country_code"],
                        party_id=token["party_id"],
                        uid=token["uid"],
                        type=token["type"],
                        **values,
                    )
                )
                return True
            await tx.execute(update(PartnerTokenRow).where(*key).values(**values))
            return False

        return await self._db.write(op)

    async def get(self, country_code: str, party_id: str, uid: str, type: str) -> PartnerToken:
        row = await self._db.fetch_one(
            select(PartnerTokenRow).where(*_key(country_code, party_id, uid, type))
        )
        if row is None:
            raise PartnerTokenNotFound(uid)
        return PartnerToken.model_validate(row)

    async def find_uid(self, uid: str) -> list[PartnerToken]:
        rows = await self._db.fetch_all(
            select(PartnerTokenRow)
            .where(PartnerTokenRow.uid == uid)
            .order_by(PartnerTokenRow.last_updated.desc())
        )
        return [PartnerToken.model_validate(row) for row in rows]

    async def authorize(
        self, uid: str, station_id: str | None = None, evse_id: int | None = None
    ) -> IdTokenInfo | None:
        """The answer for a partner's token by the whitelist rules; None if we have none.

        ``station_id`` and ``evse_id`` (the OCPP EVSE, None when unknown) say where the
        driver is, for the eMSP's real-time authorization.
        """
        found = await self.find_uid(uid)
        if not found:
            verdict = await self._realtime.authorize_unknown(uid, station_id, evse_id)
            if verdict is None:
                return None
            if verdict.allowed is not None:
                await self.put(verdict.allowed.token, verdict.allowed.last_updated)
            return IdTokenInfo(status=verdict.status)
        token = found[0]
        if not token.valid:
            return IdTokenInfo(status=AuthorizationStatus.BLOCKED, group_id=token.group_id)
        if token.whitelist in ("ALWAYS", "ALLOWED"):
            return IdTokenInfo(status=AuthorizationStatus.ACCEPTED, group_id=token.group_id)
        answer = await self._realtime.authorize(token, station_id, evse_id)
        if answer is None:
            offline_ok = token.whitelist == "ALLOWED_OFFLINE"
            answer = AuthorizationStatus.ACCEPTED if offline_ok else AuthorizationStatus.INVALID
        return IdTokenInfo(status=answer, group_id=token.group_id)


def _key(country_code: str, party_id: str, uid: str, type: str) -> tuple[Any, ...]:
    return (
        PartnerTokenRow.country_code == country_code,
        PartnerTokenRow.party_id == party_id,
        PartnerTokenRow.uid == uid,
        PartnerTokenRow.type == type,
    )

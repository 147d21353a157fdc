"""Id tokens: the operator's list, and the answer a charger gets about one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from cpo_backend.db.database import Database
from cpo_backend.db.token_store import TokenStore
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.errors import AlreadyExists, NotFound
from cpo_backend.domain.model import AuthorizationStatus, IdToken, IdTokenInfo
from cpo_backend.domain.time import utc_now


class TokenExists(AlreadyExists):
    noun = "token"


class TokenNotFound(NotFound):
    noun = "token"


class ForeignTokens(Protocol):
    """Tokens issued by others (roaming partners), asked about a token the operator does
    not know; None when they do not know it either."""

    async def authorize(
        self, uid: str, station_id: str | None = None, evse_id: int | None = None
    ) -> IdTokenInfo | None: ...


class TokenService:
    def __init__(self, db: Database, foreign: ForeignTokens | None = None) -> None:
        self._db = db
        self._store = TokenStore(db)
        self._foreign = foreign

    async def authorize(
        self, id_token: str | None, *, station_id: str | None = None, evse_id: int | None = None
    ) -> IdTokenInfo:
        """The status a charger is told: unknown tokens are Invalid, expired ones Expired.

        ``station_id`` and ``evse_id`` say where the driver is: the OCPP EVSE (1, 2 ...),
        None or 0 (the station itself) when unknown. Only a partner token's real-time
        authorization uses them; the operator's own tokens answer from one read.
        """
        if not id_token:
            return IdTokenInfo(status=AuthorizationStatus.INVALID)
        token = await self._store.token(id_token)
        if token is None and self._foreign is not None:
            foreign = await self._foreign.authorize(id_token, station_id, evse_id or None)
            if foreign is not None:
                return foreign
        if token is None:
            return IdTokenInfo(status=AuthorizationStatus.INVALID)
        status = token.status
        if (
            status == AuthorizationStatus.ACCEPTED
            and token.expiry_date is not None
            and token.expiry_date <= utc_now()
        ):
            status = AuthorizationStatus.EXPIRED
        return IdTokenInfo(status=status, expiry_date=token.expiry_date, group_id=token.group_id)

    async def create(
        self,
        id_token: str,
        *,
        token_type: str = "ISO14443",
        status: AuthorizationStatus = AuthorizationStatus.ACCEPTED,
        expiry_date: datetime | None = None,
        group_id: str | None = None,
    ) -> IdToken:
        now = utc_now()

        async def op(tx: WriteTx) -> None:
            added = await self._store.add_if_new(
                tx,
                id_token,
                token_type=token_type,
                status=status,
                expiry_date=expiry_date,
                group_id=group_id,
                created_at=now,
            )
            if not added:
                raise TokenExists(id_token)

        await self._db.write(op)
        return await self.get(id_token)

    async def update(self, id_token: str, **changes: Any) -> IdToken:
        values = {key: value for key, value in changes.items() if value is not None}
        if "status" in values:
            values["status"] = AuthorizationStatus(values["status"]).value
        values["updated_at"] = utc_now()

        async def op(tx: WriteTx) -> bool:
            return await self._store.change(tx, id_token, **values)

        if not await self._db.write(op):
            raise TokenNotFound(id_token)
        return await self.get(id_token)

    async def delete(self, id_token: str) -> None:
        async def op(tx: WriteTx) -> bool:
            return await self._store.remove(tx, id_token)

        if not await self._db.write(op):
            raise TokenNotFound(id_token)

    async def get(self, id_token: str) -> IdToken:
        token = await self._store.token(id_token)
        if token is None:
            raise TokenNotFound(id_token)
        return token

    async def find(self, *, offset: int = 0, limit: int = 100) -> list[IdToken]:
        return await self._store.tokens(offset=offset, limit=limit)

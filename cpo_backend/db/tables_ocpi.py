"""Tables of the OCPI side: roaming partners, our locations catalogue and the outbox.

Kept apart from ``tables.py`` so that the OCPP schema and the roaming schema evolve in
their own migrations; both share :class:`Base` and therefore one metadata.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cpo_backend.db.tables import Base
from cpo_backend.db.types import BigIntId


class PartnerRow(Base):
    """One OCPI platform we exchanged (or are exchanging) credentials with.

    ``incoming_token`` is what the partner sends us (token C when it registered with us,
    token B when we registered with it); ``outgoing_token`` is what we send it.
    ``token_a`` only exists until the partner has registered with it.
    """

    __tablename__ = "ocpi_partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # pending | registered | unregistered
    status: Mapped[str] = mapped_column(String(16))
    token_a: Mapped[str | None] = mapped_column(String(64), unique=True)
    incoming_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    outgoing_token: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(8))
    versions_url: Mapped[str | None] = mapped_column(Text)
    # [{"role", "party_id", "country_code", "business_details"}] as the partner sent them.
    roles: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # [{"identifier", "role", "url"}] of the partner's version details.
    endpoints: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LocationRow(Base):
    """A Location as the operator described it; ``last_updated`` also moves with its EVSEs."""

    __tablename__ = "ocpi_locations"
    # created_at, id: the order of GET list pages, read a page at a time.
    __table_args__ = (Index(None, "last_updated"), Index(None, "created_at", "id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    publish: Mapped[bool] = mapped_column(Boolean)
    # The OCPI Location fields the operator set (address, coordinates, time_zone ...).
    details: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    last_updated: Mapped[datetime]


class EvseRow(Base):
    """An EVSE of a Location, bound to one EVSE of an OCPP station.

    ``status`` is the OCPI status derived from the charger's connector statuses (or
    REMOVED); it is materialised so that a change can be detected and pushed.
    """

    __tablename__ = "ocpi_evses"
    __table_args__ = (Index(None, "station_id"), Index(None, "location_id", "position"))

    uid: Mapped[str] = mapped_column(String(36), primary_key=True)
    location_id: Mapped[str] = mapped_column(ForeignKey("ocpi_locations.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    station_id: Mapped[str | None] = mapped_column(String(64))
    ocpp_evse_id: Mapped[int | None] = mapped_column(Integer)
    # The OCPI EVSE fields the operator set, connectors included.
    details: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    # When the operator last changed the EVSE or its connectors (Connector.last_updated).
    details_updated: Mapped[datetime]
    last_updated: Mapped[datetime]


class TariffRow(Base):
    """A tariff of ours as the OCPI 2.2.1 Tariff JSON, without the fields we own
    (country_code, party_id, id, last_updated). Deleted tariffs stay, flagged, so that
    sessions started under them can still be priced."""

    __tablename__ = "ocpi_tariffs"
    # created_at, id: the order of GET list pages, read a page at a time.
    __table_args__ = (Index(None, "last_updated"), Index(None, "created_at", "id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    details: Mapped[dict[str, Any]]
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    last_updated: Mapped[datetime]


class PartnerTokenRow(Base):
    """A driver token an eMSP pushed to us (OCPI Token), as received, with the fields
    authorization needs as columns."""

    __tablename__ = "ocpi_tokens"
    __table_args__ = (Index(None, "uid"), Index(None, "last_updated"))

    country_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    party_id: Mapped[str] = mapped_column(String(3), primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    contract_id: Mapped[str] = mapped_column(String(36))
    group_id: Mapped[str | None] = mapped_column(String(36))
    valid: Mapped[bool] = mapped_column(Boolean)
    whitelist: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]]
    last_updated: Mapped[datetime]


class SessionRow(Base):
    """The OCPI Session of a transaction charged with a partner's token.

    Written in the transaction that started it; what OCPI needs and the OCPP side does not
    know (owner token, location, the tariff valid at the start) is fixed here.
    ``cdr_state`` is ``pending`` from the end until the CDR is sealed.
    """

    __tablename__ = "ocpi_sessions"
    __table_args__ = (
        Index(None, "partner_id", "last_updated"),
        Index(None, "cdr_state"),
        Index(None, "status"),
    )

    # Internal key: the transaction id for a session the charger started; minus the
    # command id for one a START_SESSION announced (PENDING) before there was a transaction.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # The Session id partners see: the transaction id, or "C<command id>" when announced.
    ocpi_id: Mapped[str] = mapped_column(String(36), unique=True)
    # The transaction behind it, once the charger started one.
    transaction_id: Mapped[int | None] = mapped_column(BigIntId, unique=True)
    partner_id: Mapped[int] = mapped_column(Integer)
    # The cdr_token: the owner and identity of the token that started it.
    cdr_token: Mapped[dict[str, Any]]
    auth_method: Mapped[str] = mapped_column(String(16))
    location_id: Mapped[str] = mapped_column(String(36))
    evse_uid: Mapped[str] = mapped_column(String(36))
    connector_id: Mapped[str] = mapped_column(String(36))
    currency: Mapped[str] = mapped_column(String(3))
    # The Tariff valid at the start (OCPI JSON), or None: it prices the CDR.
    tariff: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    kwh: Mapped[Decimal]
    start_date_time: Mapped[datetime]
    end_date_time: Mapped[datetime | None]
    cdr_state: Mapped[str] = mapped_column(String(16))
    # When a pending CDR may be sealed: at once after the charger's own stop, after
    # ``cdr_estimate_grace`` when we closed the transaction on an estimate (a late real
    # stop then still makes it into the first CDR).
    cdr_due_at: Mapped[datetime | None]
    last_updated: Mapped[datetime]
    # The eMSP's reference for its authorization (START_SESSION, real-time authorize).
    authorization_reference: Mapped[str | None] = mapped_column(String(36))
    # Charging periods already PATCHed: a 2.2.1 PATCH appends, so only new ones are sent.
    periods_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CdrRow(Base):
    """A sealed CDR: written once, never changed (its delivery state lives in the outbox)."""

    __tablename__ = "ocpi_cdrs"
    __table_args__ = (Index(None, "partner_id", "last_updated"), Index(None, "session_id"))

    id: Mapped[str] = mapped_column(String(39), primary_key=True)
    # A session's CDR, and its Credit CDR and the CDR issued again after it, if any.
    session_id: Mapped[int] = mapped_column(Integer)
    partner_id: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]]
    last_updated: Mapped[datetime]
    # Where the eMSP keeps it (the Location header of its answer to our POST).
    location_url: Mapped[str | None] = mapped_column(Text)


class CommandRow(Base):
    """An OCPI command accepted from a partner, until its CommandResult is queued.

    Written before the CommandResponse is answered, so that a restart cannot lose the
    result owed (rows still ``running`` at start-up are reported TIMEOUT). RESERVE_NOW
    rows map the eMSP's reservation id to ours (``ocpp_reservation_id``) for as long as
    CANCEL_RESERVATION may name it; START_SESSION rows mark the session they cause as
    started by COMMAND.
    """

    __tablename__ = "ocpi_commands"
    __table_args__ = (
        Index(None, "state"),
        Index(None, "partner_id", "reservation_id"),
        Index(None, "token_uid"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(8))
    command: Mapped[str] = mapped_column(String(32))
    response_url: Mapped[str] = mapped_column(Text)
    station_id: Mapped[str] = mapped_column(String(64))
    token_uid: Mapped[str | None] = mapped_column(String(36))
    authorization_reference: Mapped[str | None] = mapped_column(String(36))
    # Where (START_SESSION, RESERVE_NOW): the OCPI location, EVSE and connector named.
    location_id: Mapped[str | None] = mapped_column(String(36))
    evse_uid: Mapped[str | None] = mapped_column(String(36))
    connector_id: Mapped[str | None] = mapped_column(String(36))
    reservation_id: Mapped[str | None] = mapped_column(String(36))
    ocpp_reservation_id: Mapped[int | None] = mapped_column(Integer)
    # START_SESSION: the transaction it caused, once the charger started one.
    session_id: Mapped[int | None] = mapped_column(BigIntId)
    # The party that sent it (OCPI-from), when not the partner itself (behind a hub):
    # the CommandResult is addressed to it.
    from_country_code: Mapped[str | None] = mapped_column(String(2))
    from_party_id: Mapped[str | None] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(16))
    result: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ClientInfoRow(Base):
    """What a hub told us about a party connected to it (OCPI hubclientinfo ClientInfo)."""

    __tablename__ = "ocpi_client_info"

    country_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    party_id: Mapped[str] = mapped_column(String(3), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    hub_partner_id: Mapped[int] = mapped_column(Integer)
    last_updated: Mapped[datetime]


class OutboxRow(Base):
    """One request owed to a partner, written in the transaction of the change it reports.

    Rows of one ``object_key`` are delivered strictly in ``id`` order; a failed row is
    retried with backoff and holds back the later rows of its object only, until the
    partner has rejected it permanently ``outbox_dead_letter_attempts`` times (``dead``).
    """

    __tablename__ = "ocpi_outbox"
    __table_args__ = (Index(None, "state", "id"), Index(None, "partner_id", "object_key", "id"))

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(Integer)
    # The partner's module and interface role the request goes to (locations, RECEIVER).
    module: Mapped[str] = mapped_column(String(32))
    interface_role: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    # Appended to the partner's module URL: "/NL/CPO/LOC1/EVSE1".
    path: Mapped[str] = mapped_column(Text)
    object_key: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The party the request is for (OCPI-to), when it is not the partner itself: the
    # eMSP behind a hub that owns the session or CDR.
    to_country_code: Mapped[str | None] = mapped_column(String(2))
    to_party_id: Mapped[str | None] = mapped_column(String(3))
    # pending | delivered | dropped | superseded (a later PUT of the object replaced it
    # before it was sent) | dead (rejected permanently; waits for the operator)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Attempts the partner rejected permanently (counted apart from transient failures:
    # a partner that was down for an hour and then refuses once is not dead yet).
    rejections: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    # The partner's answer to the last attempt (None: no answer, or nothing was sent).
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

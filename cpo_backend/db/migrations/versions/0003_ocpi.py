"""OCPI: partners, locations, EVSEs, tariffs and the outbox

Revision ID: 0003
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cpo_backend.db.types

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ts = cpo_backend.db.types.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "ocpi_partners",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token_a", sa.String(length=64), nullable=True),
        sa.Column("incoming_token", sa.String(length=64), nullable=True),
        sa.Column("outgoing_token", sa.String(length=64), nullable=True),
        sa.Column("version", sa.String(length=8), nullable=True),
        sa.Column("versions_url", sa.Text(), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("endpoints", sa.JSON(), nullable=False),
        sa.Column("created_at", _ts(timezone=True), nullable=False),
        sa.Column("updated_at", _ts(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_partners")),
        sa.UniqueConstraint("token_a", name=op.f("uq_ocpi_partners_token_a")),
        sa.UniqueConstraint("incoming_token", name=op.f("uq_ocpi_partners_incoming_token")),
    )
    op.create_table(
        "ocpi_locations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("publish", sa.Boolean(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", _ts(timezone=True), nullable=False),
        sa.Column("last_updated", _ts(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_locations")),
    )
    op.create_index(
        op.f("ix_ocpi_locations_last_updated"), "ocpi_locations", ["last_updated"], unique=False
    )
    op.create_table(
        "ocpi_evses",
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("location_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("ocpp_evse_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", _ts(timezone=True), nullable=False),
        sa.Column("details_updated", _ts(timezone=True), nullable=False),
        sa.Column("last_updated", _ts(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["ocpi_locations.id"],
            name=op.f("fk_ocpi_evses_location_id_ocpi_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_ocpi_evses")),
    )
    op.create_index(op.f("ix_ocpi_evses_station_id"), "ocpi_evses", ["station_id"], unique=False)
    op.create_index(
        op.f("ix_ocpi_evses_location_id_position"),
        "ocpi_evses",
        ["location_id", "position"],
        unique=False,
    )
    op.create_table(
        "ocpi_tariffs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", _ts(timezone=True), nullable=False),
        sa.Column("last_updated", _ts(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_tariffs")),
    )
    op.create_index(
        op.f("ix_ocpi_tariffs_last_updated"), "ocpi_tariffs", ["last_updated"], unique=False
    )
    op.create_table(
        "ocpi_tokens",
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("party_id", sa.String(length=3), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("contract_id", sa.String(length=36), nullable=False),
        sa.Column("group_id", sa.String(length=36), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("whitelist", sa.String(length=16), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("last_updated", _ts(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "country_code", "party_id", "uid", "type", name=op.f("pk_ocpi_tokens")
        ),
    )
    op.create_index(op.f("ix_ocpi_tokens_uid"), "ocpi_tokens", ["uid"], unique=False)
    op.create_index(
        op.f("ix_ocpi_tokens_last_updated"), "ocpi_tokens", ["last_updated"], unique=False
    )
    op.create_table(
        "ocpi_sessions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("cdr_token", sa.JSON(), nullable=False),
        sa.Column("auth_method", sa.String(length=16), nullable=False),
        sa.Column("location_id", sa.String(length=36), nullable=False),
        sa.Column("evse_uid", sa.String(length=36), nullable=False),
        sa.Column("connector_id", sa.String(length=36), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tariff", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kwh", cpo_backend.db.types.ExactDecimal(length=48), nullable=False),
        sa.Column("start_date_time", _ts(timezone=True), nullable=False),
        sa.Column("end_date_time", _ts(timezone=True), nullable=True),
        sa.Column("cdr_state", sa.String(length=16), nullable=False),
        sa.Column("last_updated", _ts(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_sessions")),
    )
    op.create_index(
        op.f("ix_ocpi_sessions_cdr_state"), "ocpi_sessions", ["cdr_state"], unique=False
    )
    op.create_index(
        op.f("ix_ocpi_sessions_partner_id_last_updated"),
        "ocpi_sessions",
        ["partner_id", "last_updated"],
        unique=False,
    )
    op.create_table(
        "ocpi_cdrs",
        sa.Column("id", sa.String(length=39), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("last_updated", _ts(timezone=True), nullable=False),
        sa.Column("location_url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_cdrs")),
        sa.UniqueConstraint("session_id", name=op.f("uq_ocpi_cdrs_session_id")),
    )
    op.create_index(
        op.f("ix_ocpi_cdrs_partner_id_last_updated"),
        "ocpi_cdrs",
        ["partner_id", "last_updated"],
        unique=False,
    )
    op.create_table(
        "ocpi_client_info",
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("party_id", sa.String(length=3), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hub_partner_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", _ts(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("country_code", "party_id", name=op.f("pk_ocpi_client_info")),
    )
    op.create_table(
        "ocpi_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("module", sa.String(length=32), nullable=False),
        sa.Column("interface_role", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("object_key", sa.String(length=200), nullable=False),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _ts(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _ts(timezone=True), nullable=False),
        sa.Column("delivered_at", _ts(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_outbox")),
    )
    op.create_index(op.f("ix_ocpi_outbox_state_id"), "ocpi_outbox", ["state", "id"], unique=False)
    op.create_index(
        op.f("ix_ocpi_outbox_partner_id_object_key_id"),
        "ocpi_outbox",
        ["partner_id", "object_key", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("ocpi_outbox")
    op.drop_table("ocpi_tariffs")
    op.drop_table("ocpi_tokens")
    op.drop_table("ocpi_cdrs")
    op.drop_table("ocpi_client_info")
    op.drop_table("ocpi_sessions")
    op.drop_table("ocpi_evses")
    op.drop_table("ocpi_locations")
    op.drop_table("ocpi_partners")

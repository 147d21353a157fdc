"""OCPI: commands, announced sessions, periods sent, push target, credit CDRs, list order

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cpo_backend.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ts = cpo_backend.db.types.UtcDateTime
_big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ocpi_commands",
        sa.Column("id", _big_id, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=8), nullable=False),
        sa.Column("command", sa.String(length=32), nullable=False),
        sa.Column("response_url", sa.Text(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("token_uid", sa.String(length=36), nullable=True),
        sa.Column("authorization_reference", sa.String(length=36), nullable=True),
        sa.Column("location_id", sa.String(length=36), nullable=True),
        sa.Column("evse_uid", sa.String(length=36), nullable=True),
        sa.Column("connector_id", sa.String(length=36), nullable=True),
        sa.Column("reservation_id", sa.String(length=36), nullable=True),
        sa.Column("ocpp_reservation_id", sa.Integer(), nullable=True),
        sa.Column("session_id", _big_id, nullable=True),
        sa.Column("from_country_code", sa.String(length=2), nullable=True),
        sa.Column("from_party_id", sa.String(length=3), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("created_at", _ts(timezone=True), nullable=False),
        sa.Column("finished_at", _ts(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpi_commands")),
    )
    op.create_index(
        op.f("ix_ocpi_commands_partner_id_reservation_id"),
        "ocpi_commands",
        ["partner_id", "reservation_id"],
    )
    op.create_index(op.f("ix_ocpi_commands_state"), "ocpi_commands", ["state"])
    op.create_index(op.f("ix_ocpi_commands_token_uid"), "ocpi_commands", ["token_uid"])
    for table in ("ocpi_locations", "ocpi_tariffs"):
        op.create_index(op.f(f"ix_{table}_created_at_id"), table, ["created_at", "id"])
    with op.batch_alter_table("ocpi_cdrs") as batch:
        # A session can have a CDR, its Credit CDR and a CDR issued again.
        batch.drop_constraint(op.f("uq_ocpi_cdrs_session_id"), type_="unique")
        batch.create_index(op.f("ix_ocpi_cdrs_session_id"), ["session_id"])
    with op.batch_alter_table("ocpi_outbox") as batch:
        batch.add_column(sa.Column("to_country_code", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("to_party_id", sa.String(length=3), nullable=True))
    with op.batch_alter_table("ocpi_sessions") as batch:
        batch.add_column(sa.Column("ocpi_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("transaction_id", _big_id, nullable=True))
        batch.add_column(sa.Column("authorization_reference", sa.String(length=36), nullable=True))
        batch.add_column(
            sa.Column("periods_sent", sa.Integer(), server_default="0", nullable=False)
        )
    # Sessions so far were all started by a charger: their id is their transaction's.
    op.execute("UPDATE ocpi_sessions SET ocpi_id = CAST(id AS VARCHAR(36)), transaction_id = id")
    with op.batch_alter_table("ocpi_sessions") as batch:
        batch.alter_column("ocpi_id", existing_type=sa.String(length=36), nullable=False)
        batch.create_unique_constraint(op.f("uq_ocpi_sessions_ocpi_id"), ["ocpi_id"])
        batch.create_unique_constraint(op.f("uq_ocpi_sessions_transaction_id"), ["transaction_id"])
        batch.create_index(op.f("ix_ocpi_sessions_status"), ["status"])


def downgrade() -> None:
    for table in ("ocpi_locations", "ocpi_tariffs"):
        op.drop_index(op.f(f"ix_{table}_created_at_id"), table_name=table)
    with op.batch_alter_table("ocpi_cdrs") as batch:
        batch.drop_index(op.f("ix_ocpi_cdrs_session_id"))
        batch.create_unique_constraint(op.f("uq_ocpi_cdrs_session_id"), ["session_id"])
    with op.batch_alter_table("ocpi_outbox") as batch:
        batch.drop_column("to_party_id")
        batch.drop_column("to_country_code")
    with op.batch_alter_table("ocpi_sessions") as batch:
        batch.drop_index(op.f("ix_ocpi_sessions_status"))
        batch.drop_constraint(op.f("uq_ocpi_sessions_transaction_id"), type_="unique")
        batch.drop_constraint(op.f("uq_ocpi_sessions_ocpi_id"), type_="unique")
        batch.drop_column("periods_sent")
        batch.drop_column("authorization_reference")
        batch.drop_column("transaction_id")
        batch.drop_column("ocpi_id")
    op.drop_index(op.f("ix_ocpi_commands_token_uid"), table_name="ocpi_commands")
    op.drop_index(op.f("ix_ocpi_commands_state"), table_name="ocpi_commands")
    op.drop_index(op.f("ix_ocpi_commands_partner_id_reservation_id"), table_name="ocpi_commands")
    op.drop_table("ocpi_commands")

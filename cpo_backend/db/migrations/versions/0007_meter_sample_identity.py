"""Exactly once in the database: meter sample identity, one transaction per charger id,
2.0.1 events identified by seqNo and content; a station's last sign of life before its
connection; the token of each remote start

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cpo_backend.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ts = cpo_backend.db.types.UtcDateTime
_SAMPLE: list[str | sa.TextClause] = [
    "sampled_at",
    "measurand",
    sa.text("coalesce(phase, '')"),
    "location",
    "context",
    "raw_value",
]
_NO_TRANSACTION = sa.text("transaction_id IS NULL")
_NOT_ORPHAN = sa.text("status <> 'orphan'")


def upgrade() -> None:
    op.create_table(
        "remote_starts",
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("remote_start_id", sa.Integer(), nullable=False),
        sa.Column("id_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "remote_start_id", name=op.f("pk_remote_starts")),
    )
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("previous_seen_at", _ts(), nullable=True))
    # Samples stored twice before this revision (the bug it fixes) keep their first copy.
    op.execute(
        "DELETE FROM meter_values WHERE id NOT IN (SELECT min(id) FROM meter_values "
        "GROUP BY station_id, evse_id, connector_id, transaction_id, sampled_at, measurand, "
        "coalesce(phase, ''), location, context, raw_value)"
    )
    with op.batch_alter_table("meter_values") as batch:
        batch.drop_index("ix_meter_values_transaction_id_sampled_at")
        batch.create_index("uq_meter_values_sample", ["transaction_id", *_SAMPLE], unique=True)
        batch.create_index(
            "uq_meter_values_sample_without_transaction",
            ["station_id", "evse_id", "connector_id", *_SAMPLE],
            unique=True,
            sqlite_where=_NO_TRANSACTION,
            postgresql_where=_NO_TRANSACTION,
        )
    with op.batch_alter_table("transactions") as batch:
        batch.drop_index("ix_transactions_station_id_charger_transaction_id")
        batch.create_index(
            "uq_transactions_station_charger_transaction",
            ["station_id", "charger_transaction_id"],
            unique=True,
            sqlite_where=_NOT_ORPHAN,
            postgresql_where=_NOT_ORPHAN,
        )
    with op.batch_alter_table("transaction_events") as batch:
        batch.drop_constraint(
            "uq_transaction_events_station_id_charger_transaction_id_seq_no", type_="unique"
        )
        batch.create_unique_constraint(
            "uq_transaction_events_identity",
            ["station_id", "charger_transaction_id", "seq_no", "event_type", "timestamp"],
        )


def downgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("previous_seen_at")
    op.drop_table("remote_starts")
    with op.batch_alter_table("transaction_events") as batch:
        batch.drop_constraint(
            "uq_transaction_events_identity",
            type_="unique",
        )
        batch.create_unique_constraint(
            "uq_transaction_events_station_id_charger_transaction_id_seq_no",
            ["station_id", "charger_transaction_id", "seq_no"],
        )
    with op.batch_alter_table("transactions") as batch:
        batch.drop_index("uq_transactions_station_charger_transaction")
        batch.create_index(
            "ix_transactions_station_id_charger_transaction_id",
            ["station_id", "charger_transaction_id"],
        )
    with op.batch_alter_table("meter_values") as batch:
        batch.drop_index("uq_meter_values_sample_without_transaction")
        batch.drop_index("uq_meter_values_sample")
        batch.create_index(
            "ix_meter_values_transaction_id_sampled_at", ["transaction_id", "sampled_at"]
        )

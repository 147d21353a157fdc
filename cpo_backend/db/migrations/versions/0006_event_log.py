"""The durable domain event log, projector checkpoints and failures; CDR due time

Revision ID: 0006
Revises: 0004, 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cpo_backend.db.types

revision: str = "0006"
down_revision: str | Sequence[str] | None = ("0004", "0005")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ts = cpo_backend.db.types.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "domain_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", _ts(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_events")),
    )
    op.create_table(
        "projector_checkpoints",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("event_id", _ID, nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_projector_checkpoints")),
    )
    op.create_table(
        "projector_failures",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("projector", sa.String(length=32), nullable=False),
        sa.Column("event_id", _ID, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projector_failures")),
        sa.UniqueConstraint(
            "projector", "event_id", name=op.f("uq_projector_failures_projector_event_id")
        ),
    )
    with op.batch_alter_table("ocpi_sessions") as batch:
        batch.add_column(sa.Column("cdr_due_at", _ts(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ocpi_sessions") as batch:
        batch.drop_column("cdr_due_at")
    op.drop_table("projector_failures")
    op.drop_table("projector_checkpoints")
    op.drop_table("domain_events")

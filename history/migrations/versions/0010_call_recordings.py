"""Call recordings: the file Asterisk's MixMonitor wrote for a call, the caller's consent,
agents' pauses, retention.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)
STATUSES = ("recording", "recorded", "empty", "not_recorded", "deleted")
CONSENTS = ("not_asked", "given", "opted_out")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "call_recordings",
        sa.Column("id", ID, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("consent", sa.String(16), nullable=False),
        sa.Column("path", sa.String(512)),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("queue", sa.String(64)),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("ended_at", UTC_TIME),
        sa.Column("expires_at", UTC_TIME),
        sa.Column("marks", sa.JSON(), nullable=False),
        sa.Column("deleted_at", UTC_TIME),
        sa.Column("deleted_reason", sa.String(32)),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_recordings"),
        sa.UniqueConstraint("source", "call_id", name="uq_call_recordings_source_call_id"),
        sa.CheckConstraint(_one_of("status", STATUSES), name="ck_call_recordings_status"),
        sa.CheckConstraint(_one_of("consent", CONSENTS), name="ck_call_recordings_consent"),
    )
    op.create_index(
        "ix_call_recordings_status_expires_at", "call_recordings", ["status", "expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_call_recordings_status_expires_at", "call_recordings")
    op.drop_table("call_recordings")

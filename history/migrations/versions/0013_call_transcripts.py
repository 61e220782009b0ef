"""Call transcripts: what was said on a recorded call, transcribed after the call, with the
phrases spotted and a sentiment score.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "call_transcripts",
        sa.Column("id", ID, nullable=False),
        sa.Column("recording_id", ID, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("folded", sa.Text(), nullable=False),
        sa.Column("audio_s", sa.Float(), nullable=False),
        sa.Column("decode_s", sa.Float(), nullable=False),
        sa.Column("spotted", sa.JSON(), nullable=False),
        sa.Column("categories", sa.String(512), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_transcripts"),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["call_recordings.id"],
            name="fk_call_transcripts_recording_id_call_recordings",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("recording_id", name="uq_call_transcripts_recording_id"),
        sa.UniqueConstraint("source", "call_id", name="uq_call_transcripts_source_call_id"),
    )
    op.create_index("ix_call_transcripts_created_at", "call_transcripts", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_call_transcripts_created_at", "call_transcripts")
    op.drop_table("call_transcripts")

"""Conversations: the messages of chat, e-mail and messaging-app interactions, and their
attachments (metadata here, the bytes in the attachment store on disk).

Revision ID: 0006
Revises: 0005
Create Date: 2027-01-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", ID, nullable=False),
        sa.Column("interaction_id", ID, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("author_kind", sa.String(16), nullable=False),
        sa.Column("author_id", sa.String(128)),
        sa.Column("author_name", sa.String(200)),
        sa.Column("subject", sa.String(1000)),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=False),
        sa.Column("delivery", sa.String(16), nullable=False),
        sa.Column("delivery_at", UTC_TIME, nullable=False),
        sa.Column("external_id", sa.String(255)),
        sa.Column("in_reply_to", sa.Text()),
        sa.Column("references", sa.Text()),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.CheckConstraint(
            _one_of("channel", ("chat", "email", "whatsapp", "sms")), name="ck_messages_channel"
        ),
        sa.CheckConstraint(_one_of("direction", ("in", "out")), name="ck_messages_direction"),
        sa.CheckConstraint(
            _one_of("author_kind", ("customer", "agent", "bot", "system")),
            name="ck_messages_author_kind",
        ),
        sa.CheckConstraint(
            _one_of("delivery", ("queued", "sent", "delivered", "read", "failed")),
            name="ck_messages_delivery",
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"], ["interactions.id"], name="fk_messages_interaction_id_interactions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint(
            "interaction_id", "external_id", name="uq_messages_interaction_id_external_id"
        ),
    )
    op.create_index("ix_messages_interaction_id_id", "messages", ["interaction_id", "id"])
    op.create_index("ix_messages_external_id", "messages", ["external_id"])
    op.create_table(
        "attachments",
        sa.Column("id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_ref", sa.String(128), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_attachments_message_id_messages"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
        sa.UniqueConstraint(
            "message_id", "sha256", "filename", name="uq_attachments_message_id_sha256_filename"
        ),
    )
    op.create_index("ix_attachments_storage_ref", "attachments", ["storage_ref"])


def downgrade() -> None:
    op.drop_index("ix_attachments_storage_ref", "attachments")
    op.drop_table("attachments")
    op.drop_index("ix_messages_external_id", "messages")
    op.drop_index("ix_messages_interaction_id_id", "messages")
    op.drop_table("messages")

"""Webhook deliveries (the outbox and dead letters) and their attempts.

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("subscription", sa.String(64), nullable=False),
        sa.Column("customer_id", ID),
        sa.Column("body", sa.Text()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("round_attempts", sa.Integer(), nullable=False),
        sa.Column("round_started_at", UTC_TIME, nullable=False),
        sa.Column("next_attempt_at", UTC_TIME),
        sa.Column("finished_at", UTC_TIME),
        sa.Column("last_result", sa.String(500)),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')", name="ck_webhook_deliveries_status"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint(
            "event_id", "subscription", name="uq_webhook_deliveries_event_id_subscription"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_webhook_deliveries_subscription_status_next_attempt_at",
        "webhook_deliveries",
        ["subscription", "status", "next_attempt_at"],
    )
    op.create_index("ix_webhook_deliveries_status_id", "webhook_deliveries", ["status", "id"])
    op.create_index("ix_webhook_deliveries_customer_id", "webhook_deliveries", ["customer_id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("delivery_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.String(300)),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name="fk_webhook_attempts_delivery_id_webhook_deliveries",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
    )
    op.create_index(
        "ix_webhook_attempts_delivery_id_number", "webhook_attempts", ["delivery_id", "number"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_attempts_delivery_id_number", "webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_deliveries_customer_id", "webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_status_id", "webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_subscription_status_next_attempt_at", "webhook_deliveries")
    op.drop_table("webhook_deliveries")

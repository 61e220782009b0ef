"""Two-factor sign-in for web users (TOTP, recovery codes) and the access log (who read
which customer's data).

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("web_users") as table:
        table.add_column(sa.Column("totp_secret", sa.String(64)))
        table.add_column(sa.Column("totp_enabled_at", UTC_TIME))
        table.add_column(sa.Column("totp_last_step", sa.BigInteger()))
        table.add_column(
            sa.Column("totp_failures", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "web_recovery_codes",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("selector", sa.String(16), nullable=False),
        sa.Column("code_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("used_at", UTC_TIME),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["web_users.id"],
            name="fk_web_recovery_codes_user_id_web_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_web_recovery_codes"),
        sa.UniqueConstraint("user_id", "selector", name="uq_web_recovery_codes_user_id_selector"),
    )
    op.create_table(
        "access_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_kind", sa.String(8), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("what", sa.String(64), nullable=False),
        sa.Column("route", sa.String(256), nullable=False),
        sa.Column("address", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_access_log"),
        sa.UniqueConstraint("key", name="uq_access_log_key"),
    )
    op.create_index("ix_access_log_customer_id_at", "access_log", ["customer_id", "at"])
    op.create_index("ix_access_log_actor_at", "access_log", ["actor", "at"])
    op.create_index("ix_access_log_at", "access_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_access_log_at", "access_log")
    op.drop_index("ix_access_log_actor_at", "access_log")
    op.drop_index("ix_access_log_customer_id_at", "access_log")
    op.drop_table("access_log")
    op.drop_table("web_recovery_codes")
    with op.batch_alter_table("web_users") as table:
        table.drop_column("totp_failures")
        table.drop_column("totp_last_step")
        table.drop_column("totp_enabled_at")
        table.drop_column("totp_secret")

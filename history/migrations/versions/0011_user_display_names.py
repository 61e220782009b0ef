"""Web users' display names (what the pages call a person: "Alice Martin", not "amartin").

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("web_users") as table:
        table.add_column(sa.Column("display_name", sa.String(128)))


def downgrade() -> None:
    with op.batch_alter_table("web_users") as table:
        table.drop_column("display_name")

"""Hold and wrap-up times of a contact; SIP users and extensions as identities.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('phone', 'email', 'chat', 'whatsapp', 'sms')"
NEW_KINDS = "kind IN ('phone', 'email', 'chat', 'whatsapp', 'sms', 'sip', 'extension')"


def _kinds(check: str) -> None:
    # SQLite cannot alter a constraint: batch mode copies the table (recreate="always").
    with op.batch_alter_table("identities", recreate="always") as batch:
        batch.drop_constraint("ck_identities_kind", type_="check")
        batch.create_check_constraint("ck_identities_kind", check)


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("hold_s", sa.Float()))
        batch.add_column(sa.Column("wrap_s", sa.Float()))
    _kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM identities WHERE kind IN ('sip', 'extension')")
    _kinds(OLD_KINDS)
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("wrap_s")
        batch.drop_column("hold_s")

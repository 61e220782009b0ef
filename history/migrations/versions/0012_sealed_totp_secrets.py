"""Room for sealed TOTP secrets: ``v1:<key id>:<nonce + ciphertext>`` is longer than the
base32 secret kept before. The service seals the secrets kept in clear at its next start
(``TwoFactorStore.seal_stored_secrets``): the key lives outside the database, so this
migration cannot.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("web_users") as table:
        table.alter_column("totp_secret", type_=sa.String(255), existing_type=sa.String(64))


def downgrade() -> None:
    # Sealed values do not fit back: two-factor sign-in is reset for everyone who had it.
    op.execute(
        "UPDATE web_users SET totp_secret = NULL, totp_enabled_at = NULL, "
        "totp_last_step = NULL WHERE length(totp_secret) > 64"
    )
    op.execute(
        "DELETE FROM web_recovery_codes WHERE user_id NOT IN "
        "(SELECT id FROM web_users WHERE totp_secret IS NOT NULL)"
    )
    with op.batch_alter_table("web_users") as table:
        table.alter_column("totp_secret", type_=sa.String(64), existing_type=sa.String(255))

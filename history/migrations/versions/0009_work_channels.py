"""Voicemails and follow-ups: two more channels of interactions and of their messages.

Revision ID: 0009
Revises: 0008
Create Date: 2027-02-01

Only the channel CHECK constraints change, to a wider list. PostgreSQL alters them in
place. SQLite cannot alter a constraint, and copying ``interactions`` (batch mode) is
refused while foreign keys are on and messages, notes or callbacks refer to it (they cannot
be turned off inside the migration's transaction); so the constraint's text in the table's
definition is rewritten instead, SQLite's documented way of changing a CHECK constraint
(https://sqlite.org/lang_altertable.html#otheralter): every row kept satisfies the wider
list, so nothing needs checking again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("voice", "chat", "email", "whatsapp", "sms")
NEW = (*OLD, "voicemail", "follow_up")
GONE = "('voicemail', 'follow_up')"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _channels(table: str, values: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_check(table, f"ck_{table}_ck_{table}_channel", _one_of("channel", values))
        return
    with op.batch_alter_table(table) as batch:  # the naming convention doubles the prefix
        batch.drop_constraint(f"ck_{table}_channel", type_="check")
        batch.create_check_constraint(f"ck_{table}_channel", _one_of("channel", values))


def _sqlite_check(table: str, name: str, check: str) -> None:
    bind = op.get_bind()
    found = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    )
    sql = found.scalar_one()
    pattern = re.compile(rf"(CONSTRAINT {name} CHECK \()[^)]*\)\)")
    changed, count = pattern.subn(lambda m: f"{m.group(1)}{check})", sql)
    if count != 1:
        raise RuntimeError(f"{table}: constraint {name} not found in its definition")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (changed, table)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _channels("interactions", NEW)
    _channels("messages", NEW[1:])


def downgrade() -> None:
    op.execute(
        "DELETE FROM attachments WHERE message_id IN"
        f" (SELECT id FROM messages WHERE channel IN {GONE})"
    )
    op.execute(f"DELETE FROM messages WHERE channel IN {GONE}")
    op.execute(
        "DELETE FROM notes WHERE interaction_id IN"
        f" (SELECT id FROM interactions WHERE channel IN {GONE})"
    )
    op.execute(f"DELETE FROM interactions WHERE channel IN {GONE}")
    _channels("messages", OLD[1:])
    _channels("interactions", OLD)

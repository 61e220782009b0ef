"""The first tables: customers, identities, interactions, notes, ACD events, merges, erasures.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def _id(name: str = "id", *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, ID, nullable=nullable)


def _fk(column: str, table: str, target: str, fk_table: str) -> sa.ForeignKeyConstraint:
    name = f"fk_{table}_{column}_{fk_table}"
    return sa.ForeignKeyConstraint([column], [f"{fk_table}.{target}"], name=name)


def upgrade() -> None:
    op.create_table(
        "acd_events",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(128)),
        sa.Column("agent_id", sa.String(64)),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_acd_events"),
        sa.UniqueConstraint("key", name="uq_acd_events_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_acd_events_at", "acd_events", ["at"])
    op.create_index("ix_acd_events_call_id", "acd_events", ["call_id"])

    op.create_table(
        "customers",
        _id(),
        sa.Column("name", sa.String(200)),
        sa.Column("tier", sa.String(32)),
        sa.Column("language", sa.String(16)),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("consent", sa.JSON(), nullable=False),
        sa.Column("custom_fields", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        _id("merged_into_id", nullable=True),
        sa.Column("erased_at", UTC_TIME),
        _fk("merged_into_id", "customers", "id", "customers"),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
    )

    op.create_table(
        "customer_merges",
        _id(),
        _id("survivor_id"),
        _id("merged_id"),
        sa.Column("merged_at", UTC_TIME, nullable=False),
        sa.Column("merged_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        _fk("merged_id", "customer_merges", "id", "customers"),
        _fk("survivor_id", "customer_merges", "id", "customers"),
        sa.PrimaryKeyConstraint("id", name="pk_customer_merges"),
    )
    op.create_index("ix_customer_merges_merged_id", "customer_merges", ["merged_id"])
    op.create_index("ix_customer_merges_survivor_id", "customer_merges", ["survivor_id"])

    op.create_table(
        "erasures",
        _id(),
        _id("customer_id"),
        sa.Column("erased_at", UTC_TIME, nullable=False),
        sa.Column("erased_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("removed", sa.JSON(), nullable=False),
        _fk("customer_id", "erasures", "id", "customers"),
        sa.PrimaryKeyConstraint("id", name="pk_erasures"),
    )
    op.create_index("ix_erasures_customer_id", "erasures", ["customer_id"])

    op.create_table(
        "identities",
        _id(),
        _id("customer_id"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.CheckConstraint(
            "kind IN ('phone', 'email', 'chat', 'whatsapp', 'sms')", name="ck_identities_kind"
        ),
        _fk("customer_id", "identities", "id", "customers"),
        sa.PrimaryKeyConstraint("id", name="pk_identities"),
        sa.UniqueConstraint("value", "kind", name="uq_identities_value_kind"),
    )
    op.create_index("ix_identities_customer_id", "identities", ["customer_id"])

    op.create_table(
        "interactions",
        _id(),
        _id("customer_id", nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("ended_at", UTC_TIME),
        sa.Column("intent", sa.String(64)),
        sa.Column("call_type", sa.String(64)),
        sa.Column("priority", sa.Integer()),
        sa.Column("queue", sa.String(64)),
        sa.Column("agent", sa.String(64)),
        sa.Column("wait_s", sa.Float()),
        sa.Column("talk_s", sa.Float()),
        sa.Column("outcome", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("disposition", sa.String(64)),
        sa.Column("recording_ref", sa.String(512)),
        sa.Column("transcript", sa.Text()),
        sa.Column("csat", sa.SmallInteger()),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128)),
        sa.Column("idempotency_key", sa.String(128)),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.CheckConstraint(
            "channel IN ('voice', 'chat', 'email', 'whatsapp', 'sms')",
            name="ck_interactions_channel",
        ),
        sa.CheckConstraint("direction IN ('in', 'out')", name="ck_interactions_direction"),
        sa.CheckConstraint(
            "status IN ('open', 'resolved', 'postponed')", name="ck_interactions_status"
        ),
        sa.CheckConstraint("csat IS NULL OR csat BETWEEN 1 AND 5", name="ck_interactions_csat"),
        _fk("customer_id", "interactions", "id", "customers"),
        sa.PrimaryKeyConstraint("id", name="pk_interactions"),
        sa.UniqueConstraint(
            "source", "idempotency_key", name="uq_interactions_source_idempotency_key"
        ),
    )
    op.create_index(
        "ix_interactions_customer_id_started_at_id",
        "interactions",
        ["customer_id", "started_at", "id"],
    )
    op.create_index("ix_interactions_customer_id_status", "interactions", ["customer_id", "status"])
    op.create_index("ix_interactions_source_external_id", "interactions", ["source", "external_id"])
    op.create_index("ix_interactions_started_at", "interactions", ["started_at"])

    op.create_table(
        "notes",
        _id(),
        _id("customer_id", nullable=True),
        _id("interaction_id", nullable=True),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(128)),
        sa.Column("created_at", UTC_TIME, nullable=False),
        _fk("customer_id", "notes", "id", "customers"),
        _fk("interaction_id", "notes", "id", "interactions"),
        sa.PrimaryKeyConstraint("id", name="pk_notes"),
        sa.UniqueConstraint("source", "idempotency_key", name="uq_notes_source_idempotency_key"),
    )
    op.create_index("ix_notes_customer_id_created_at", "notes", ["customer_id", "created_at"])
    op.create_index("ix_notes_interaction_id", "notes", ["interaction_id"])


def downgrade() -> None:
    for table in (
        "notes",
        "interactions",
        "identities",
        "erasures",
        "customer_merges",
        "customers",
        "acd_events",
    ):
        op.drop_table(table)

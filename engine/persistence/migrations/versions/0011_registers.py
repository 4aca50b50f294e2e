"""register entries and their audit chains

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 05:10:00

``register_entries`` holds the entries of the registers a definition set declares (customers,
installed devices...), each with its row version and the head of its own audit chain.
``audit_events.register_entry_id`` says which entry an audit entry is about; it is a plain
ADD COLUMN on both backends, so the append-only table and its triggers are not rebuilt.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "register_entries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("register", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.Column("audit_count", sa.Integer(), nullable=False),
        sa.Column("audit_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_entries")),
        sa.UniqueConstraint("register", "key", name=op.f("uq_register_entries_register")),
    )
    op.add_column("audit_events", sa.Column("register_entry_id", ID, nullable=True))
    op.create_index(op.f("ix_audit_events_register_entry_id"), "audit_events",
                    ["register_entry_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_events_register_entry_id"), table_name="audit_events")
    # A plain DROP COLUMN on both backends (SQLite since 3.35): the table and its append-only
    # triggers stay as they are.
    op.execute("ALTER TABLE audit_events DROP COLUMN register_entry_id")
    op.drop_table("register_entries")

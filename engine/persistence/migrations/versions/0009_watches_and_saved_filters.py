"""watched cases and saved case-list filters

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:10:00

``case_watches`` holds who watches which case (the inbox's "watching" list);
``saved_filters`` a user's named case lists, each the list page's query string. Both are new
tables: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_watches",
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_case_watches_case_id_cases")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_case_watches_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "case_id", name=op.f("pk_case_watches")),
    )
    with op.batch_alter_table("case_watches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_watches_case_id"), ["case_id"],
                              unique=False)
    op.create_table(
        "saved_filters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_saved_filters_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_filters")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_saved_filters_user_id")),
    )
    with op.batch_alter_table("saved_filters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_filters_user_id"), ["user_id"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("saved_filters")
    op.drop_table("case_watches")

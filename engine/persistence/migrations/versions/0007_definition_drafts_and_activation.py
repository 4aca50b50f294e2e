"""definition drafts edited in the browser, and the activated definition version

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 02:00:00

``definition_drafts`` holds sets being edited in the browser (every file's text, its author,
title and times) until they are published as a version. ``definition_activations`` records
each activation of a stored version: the newest row is the version new cases start on, read
by every worker on its next request, so activating needs no restart.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "definition_drafts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("root", sa.String(length=500), nullable=False),
        sa.Column("base_version", sa.String(length=64), nullable=True),
        sa.Column("author_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_version", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_definition_drafts")),
    )
    op.create_table(
        "definition_activations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["version"], ["definition_versions.hash"],
                                name=op.f("fk_definition_activations_version_"
                                          "definition_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_definition_activations")),
    )


def downgrade() -> None:
    op.drop_table("definition_activations")
    op.drop_table("definition_drafts")

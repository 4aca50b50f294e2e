"""scheduled occurrences: the cases scheduled work opened

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 11:30:00

``scheduled_occurrences`` records each occurrence of a schedule that was opened (schedule,
register entry, due date, the day it opened on and the case number), written in the case's own
transaction. Its unique constraint on (schedule, entry key, due date) is what makes the worker
open each occurrence exactly once, however many workers run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "scheduled_occurrences",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("schedule", sa.String(length=100), nullable=False),
        sa.Column("register", sa.String(length=100), nullable=False),
        sa.Column("entry_key", sa.String(length=200), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("case_number", sa.String(length=100), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_occurrences")),
        sa.UniqueConstraint("schedule", "entry_key", "due_on",
                            name=op.f("uq_scheduled_occurrences_schedule")),
    )
    op.create_index("ix_scheduled_occurrences_opens_on", "scheduled_occurrences",
                    ["opens_on"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_scheduled_occurrences_opens_on", table_name="scheduled_occurrences")
    op.drop_table("scheduled_occurrences")

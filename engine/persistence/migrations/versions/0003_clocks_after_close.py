"""clocks that run after the case is closed

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 03:00:00

``case_clocks.after_close`` mirrors a clock's ``runs_after_close``: the deadline sweep claims a
closed case only for such a clock (every other clock stops when its case closes).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_clocks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("after_close", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("case_clocks", schema=None) as batch_op:
        batch_op.drop_column("after_close")

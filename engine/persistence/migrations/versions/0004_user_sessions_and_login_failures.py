"""server-side web sessions and the login throttling record

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 06:30:00

``user_sessions`` holds one row per signed-in web session (the cookie carries its random id,
the table its SHA-256), so signing out, a new password, disabling an account or "sign out
everywhere" ends a session on the server. ``login_failures`` keeps refused passwords for the
throttling windows (per address, per address and account, per account; signatures apart).
Cookies signed before this revision carry no session id: they count as expired.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=50), nullable=True),
        sa.Column("client", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_user_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_user_sessions_last_seen_at"), ["last_seen_at"],
                              unique=False)

    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_at"), ["at"], unique=False)
        batch_op.create_index("ix_login_failures_address", ["address", "kind", "at"],
                              unique=False)
        batch_op.create_index("ix_login_failures_user", ["user_id", "kind", "at"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("login_failures")
    op.drop_table("user_sessions")

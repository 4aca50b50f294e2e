"""accounts: password history, temporary passwords, per-user time zone, sessions' browsers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 02:00:00

``password_history`` keeps the argon2 hashes of a user's earlier passwords (never the
passwords), so a new one may not repeat the last ``PASSWORD_HISTORY`` (21 CFR 11.300(b)
practice). ``users.password_temporary`` marks a password an administrator set: its holder must
choose their own at the next sign-in (no administrator knows a password in use).
``users.timezone`` is the user's IANA time zone (NULL: the organisation's). ``user_sessions
.user_agent`` is the browser a session signed in from, for the user's list of their sessions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("password_temporary", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_agent", sa.String(length=200), nullable=True))
    op.create_table(
        "password_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_password_history_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_history_user_id"), ["user_id"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("password_history")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_column("user_agent")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("password_temporary")
        batch_op.drop_column("timezone")

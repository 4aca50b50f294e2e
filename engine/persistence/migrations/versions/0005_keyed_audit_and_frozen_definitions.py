"""audit entries sealed with a key kept outside the database; definition versions frozen

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 18:20:00

``audit_events.key_id`` names the key whose HMAC seals an entry (NULL: an entry hashed with
plain SHA-256, as every entry before this revision was). A stored definition version is a
controlled record: the database now refuses to change or remove one, as it does audit entries.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PG_REFUSE = """
CREATE FUNCTION qmsflow_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$
"""


def upgrade() -> None:
    # A plain ADD COLUMN on both backends: the table (and its triggers) is not rebuilt.
    op.add_column("audit_events", sa.Column("key_id", sa.String(length=16), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_REFUSE)
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER definition_versions_no_{verb.lower()} BEFORE {verb} ON "
                "definition_versions FOR EACH ROW EXECUTE FUNCTION qmsflow_append_only()"
            )
        op.execute(
            "CREATE TRIGGER definition_versions_no_truncate BEFORE TRUNCATE ON "
            "definition_versions FOR EACH STATEMENT EXECUTE FUNCTION qmsflow_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER definition_versions_no_{verb.lower()} BEFORE {verb} ON "
                "definition_versions BEGIN SELECT RAISE(ABORT, 'definition versions are "
                f"append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    for verb in ("update", "delete", "truncate"):
        if verb != "truncate" or op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS definition_versions_no_{verb}"
                       + (" ON definition_versions" if op.get_bind().dialect.name
                          == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS qmsflow_append_only()")
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_column("key_id")

"""audit entries chained per case in the step, sealed globally afterwards by the sealer

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 20:50:00

Until now every step took the one ``audit_head`` row lock to chain its entries globally, so
steps on different cases waited for each other. From this revision a step chains its entries
in its own case only (under the case's row version, which it holds anyway) and takes their ids
from a sequence; ``audit_seals`` then chains them globally in batches, written by the sealer
after the steps have committed. ``audit_events.prev_hash`` stays for the entries written before
(they are chained already: the head counts them as sealed) and is NULL for later ones.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column("audit_head", sa.Column("seal_seq", sa.BigInteger(), nullable=False,
                                          server_default="0"))
    op.create_table(
        "audit_seals",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=False, nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_seals")),
        sa.UniqueConstraint("last_id", name=op.f("uq_audit_seals_last_id")),
    )
    if postgresql:
        op.execute("ALTER TABLE audit_events ALTER COLUMN prev_hash DROP NOT NULL")
        op.execute("CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id")
        op.execute("SELECT setval('audit_events_id_seq', "
                   "COALESCE((SELECT max(id) FROM audit_events), 0) + 1, false)")
        op.execute("ALTER TABLE audit_events ALTER COLUMN id "
                   "SET DEFAULT nextval('audit_events_id_seq')")
        # qmsflow_append_only() came with revision 0005.
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_seals_no_{verb.lower()} BEFORE {verb} ON "
                       "audit_seals FOR EACH ROW EXECUTE FUNCTION qmsflow_append_only()")
        op.execute("CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals "
                   "FOR EACH STATEMENT EXECUTE FUNCTION qmsflow_append_only()")
        return
    _prev_hash_nullable(True)
    _sqlite_append_only("audit_seals", "audit seals")


def _sqlite_append_only(table: str, label: str) -> None:
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{label} are append-only: {verb} refused'); END")


def _prev_hash_nullable(nullable: bool) -> None:
    """SQLite changes a column's NULL rule only by copying the table, and the copy loses the
    append-only triggers: drop them first (the copy's DROP TABLE must not fire them), then
    make them again. (An INTEGER PRIMARY KEY already takes the next id when none is given.)"""
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS audit_events_no_{verb}")
    with op.batch_alter_table("audit_events", recreate="always") as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64),
                              nullable=nullable)
    _sqlite_append_only("audit_events", "audit events")


def downgrade() -> None:
    sealed = op.get_bind().execute(
        sa.text("SELECT count(*) FROM audit_events WHERE prev_hash IS NULL")).scalar_one()
    if sealed:
        raise RuntimeError(
            f"revision 0006 is not downgraded: {sealed} audit entries were written since, "
            "chained by their seals, which the earlier revision cannot hold (restore a backup "
            "instead)")
    postgresql = op.get_bind().dialect.name == "postgresql"
    for verb in ("update", "delete", "truncate"):
        if verb != "truncate" or postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS audit_seals_no_{verb}"
                       + (" ON audit_seals" if postgresql else ""))
    op.drop_table("audit_seals")
    with op.batch_alter_table("audit_head") as batch_op:
        batch_op.drop_column("seal_seq")
    if postgresql:
        op.execute("ALTER TABLE audit_events ALTER COLUMN id DROP DEFAULT")
        op.execute("DROP SEQUENCE audit_events_id_seq")
        op.execute("ALTER TABLE audit_events ALTER COLUMN prev_hash SET NOT NULL")
    else:
        _prev_hash_nullable(False)

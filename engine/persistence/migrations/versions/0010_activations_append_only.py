"""definition activations are append-only

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:30:00

The newest row of ``definition_activations`` names the version every worker serves, so an
activation is a controlled record: like the versions themselves (revision 0005), the database
now refuses to change or remove one. ``audit verify`` also proves each row against its
``activated`` audit entry.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLE = "definition_activations"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for verb in ("UPDATE", "DELETE"):
        if postgresql:  # qmsflow_append_only() is revision 0005's
            op.execute(f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
                       "FOR EACH ROW EXECUTE FUNCTION qmsflow_append_only()")
        else:
            op.execute(f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
                       "BEGIN SELECT RAISE(ABORT, 'definition activations are append-only: "
                       f"{verb} refused'); END")
    if postgresql:
        op.execute(f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION qmsflow_append_only()")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for verb in ("update", "delete", *(("truncate",) if postgresql else ())):
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{verb}"
                   + (f" ON {TABLE}" if postgresql else ""))

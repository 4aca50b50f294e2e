"""scheduled occurrences are append-only

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:10:00

A row of ``scheduled_occurrences`` is what keeps an occurrence of scheduled work from opening
a second case: removing one would open it again, changing one would move it. Like the
activations (revision 0010), the database now refuses to change or remove one, and
``audit verify`` proves each row against its case's opening audit entry.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLE = "scheduled_occurrences"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for verb in ("UPDATE", "DELETE"):
        if postgresql:  # qmsflow_append_only() is revision 0005's
            op.execute(f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
                       "FOR EACH ROW EXECUTE FUNCTION qmsflow_append_only()")
        else:
            op.execute(f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
                       "BEGIN SELECT RAISE(ABORT, 'scheduled occurrences are append-only: "
                       f"{verb} refused'); END")
    if postgresql:
        op.execute(f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION qmsflow_append_only()")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for verb in ("update", "delete", *(("truncate",) if postgresql else ())):
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{verb}"
                   + (f" ON {TABLE}" if postgresql else ""))

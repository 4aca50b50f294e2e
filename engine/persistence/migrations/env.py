"""Alembic environment: runs qmsflow's migrations on the connection the caller passes."""

from __future__ import annotations

from alembic import context

from qmsflow.engine.persistence.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'qmsflow db upgrade', which passes a connection")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment: runs on the connection that ``cardservice.schema`` hands over."""

from __future__ import annotations

from alembic import context

from cardservice.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - we never run alembic without the app
    raise RuntimeError("run migrations with `cardservice init`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

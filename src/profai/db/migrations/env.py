"""Alembic environment: runs on the connection profai.db.migrate hands it (or alembic.ini's URL)."""

from alembic import context
from sqlalchemy import Connection, create_engine

from profai.db.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from profai.settings import get_settings

        with create_engine(get_settings().sqlalchemy_url).connect() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()

"""Bring the schema to the newest Alembic revision. Migrations live inside the package (not at
the repository root) so an installed ProfAI, e.g. in a container, can migrate itself."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 7_301_2024  # PostgreSQL advisory lock: API and workers may start at the same moment


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine) -> None:
    """Run pending migrations, one process at a time."""
    cfg = alembic_config()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

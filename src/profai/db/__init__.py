"""Relational storage: engine and sessions, ORM models, repositories (all SQL lives here)."""

"""Alembic migrations of the history store (scripts ship inside the package)."""

"""Voicemail and follow-up tests run on the history tests' stores: SQLite and PostgreSQL."""

from __future__ import annotations

from tests.history.conftest import (  # noqa: F401  (fixtures, shared with the history tests)
    pg_schema,
    pg_target,
    sqlite_target,
    sqlite_template,
    target,
)

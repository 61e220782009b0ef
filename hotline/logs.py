"""Logging for the service: one format on stderr, phone numbers and e-mails masked.

Callers' numbers are personal data; logs are read by more people than the history is. The
filter (``history.masking``) rewrites every record once, after formatting its arguments, so
no handler (and no library logger) can print a full number. Asterisk uniqueids
(``1795356299.0``), channel suffixes (``SIP/agent1001-0000000e``), addresses and times are
left intact.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from history.masking import PersonalDataFilter

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

#: Libraries that narrate routine work at INFO (every decoded turn, every migration step;
#: aiosmtpd's ``mail.log``: every SMTP command with the peer's and customers' addresses), or
#: that log every SQL statement with its parameters at DEBUG (customers' names, notes, token
#: hashes): held at WARNING whatever the service's level.
QUIET_LIBRARIES = ("faster_whisper", "alembic", "mail.log", "aiosqlite", "sqlalchemy", "asyncpg")


class _ServiceHandler(logging.StreamHandler[TextIO]):
    """Marks the handler this module installed, so a second configure replaces it."""


def configure_logging(
    level: str = "INFO", *, mask_phone_numbers: bool = True, stream: TextIO | None = None
) -> logging.Handler:
    """Route all logs to one stderr handler (replacing a previous one from this function)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, _ServiceHandler):
            root.removeHandler(old)
    handler = _ServiceHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    if mask_phone_numbers:
        handler.addFilter(PersonalDataFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def set_level(level: str) -> None:
    """Change the level at runtime (config reload)."""
    logging.getLogger().setLevel(level)

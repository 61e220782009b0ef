"""Masking of phone numbers and e-mail addresses for logs and error messages.

The one place personal data is masked: ``hotline.logs`` installs ``PersonalDataFilter`` on
the service's log handler, and chat and e-mail modules that import the history store (and do
not run hotline's logging) can install it on theirs.
"""

from __future__ import annotations

import logging
import re

_PHONE_IN_TEXT = re.compile(r"(?<![\w.\-/:+])\+?\d{7,15}(?![\w.\-/:])")
_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def mask_phone(number: str) -> str:
    """``+441632960123`` -> ``+44******0123``: country hint and last 4 digits stay."""
    plus = "+" if number.startswith("+") else ""
    digits = number[len(plus) :]
    if len(digits) <= 6:
        return plus + "*" * max(len(digits) - 2, 0) + digits[-2:]
    head = 2 if len(digits) >= 10 else 0  # a country or area hint only on long numbers
    return plus + digits[:head] + "*" * (len(digits) - head - 4) + digits[-4:]


def mask_email(address: str) -> str:
    """``jane.doe@example.com`` -> ``j*******@example.com``."""
    local, at, domain = address.rpartition("@")
    if not at:
        return mask_text(address)
    return local[:1] + "*" * max(len(local) - 1, 1) + "@" + domain


def mask_identity(kind: str, value: str) -> str:
    if kind == "email":
        return mask_email(value)
    if kind in ("phone", "whatsapp", "sms"):
        return mask_phone(value)
    return value[:2] + "***" if len(value) > 2 else "***"


def mask_text(text: str) -> str:
    """Every phone number and e-mail address inside ``text`` masked."""
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group()), text)
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group()), text)


class PersonalDataFilter(logging.Filter):
    """A logging filter that masks numbers and addresses in the final message of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True

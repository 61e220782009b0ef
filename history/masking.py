"""Masking of phone numbers and e-mail addresses for logs and error messages.

The one place personal data is masked: ``hotline.logs`` installs ``PersonalDataFilter`` on
the service's log handler, and chat and e-mail modules that import the history store (and do
not run hotline's logging) can install it on theirs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

#: A number as people and telephony write it: ``0612345678``, ``+44 1632 960123``,
#: ``0044 1632 960123``, ``+44 (0)1632 960123``, ``555-123-4567``, ``06.12.34.56.78``,
#: ``tel:+441632960123``, ``sip:0612345678@pbx``; 7 to 15 digits once separators are gone.
#: Not: an Asterisk uniqueid (``1795356299.0``), an IPv4 address, a date, a decimal.
_PHONE_IN_TEXT = re.compile(
    r"(?<![\w.\-/+*])"
    r"(?!\d{10}\.\d)(?!\d{1,3}(?:\.\d{1,3}){3}(?![.\d]))(?!\d{4}-\d{2}-\d{2}(?!\d))"
    r"(?:"
    r"(?:\+|00)?\d{1,5}(?: ?\(0\) ?\d{2,8})?(?:[ \-]\d{2,8}){0,5}"  # spaced or dashed
    r"|\d{2,5}(?:\.\d{2,5}){2,5}"  # dotted groups
    r"|\+?\d{7,15}"
    r")"
    r"(?![\w.\-/:]?\d)(?![A-Za-z_])"
)
#: A number in a channel name: ``PJSIP/0612345678-00000001``, ``Local/0612345678@ctx``.
_PHONE_IN_CHANNEL = re.compile(r"(?<=/)\+?\d{7,15}(?=[-@;])")
_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_SEPARATORS = re.compile(r"[ .\-()]")
ERASED = "[erased]"


def mask_phone(number: str) -> str:
    """``+441632960123`` -> ``+44******0123``: country hint and last 4 digits stay (written
    without its separators: ``+44 1632 960123`` is masked the same)."""
    number = _SEPARATORS.sub("", number)
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


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _phone_or_not(replace: str | None) -> Callable[[re.Match[str]], str]:
    def sub(match: re.Match[str]) -> str:
        found = match.group()
        if not 7 <= _digits(found) <= 15:
            return found
        return mask_phone(found) if replace is None else replace

    return sub


def mask_text(text: str) -> str:
    """Every phone number and e-mail address inside ``text`` masked."""
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group()), text)
    text = _PHONE_IN_CHANNEL.sub(lambda m: mask_phone(m.group()), text)
    return _PHONE_IN_TEXT.sub(_phone_or_not(None), text)


def redact_text(text: str) -> str:
    """Every phone number and e-mail address inside ``text`` replaced by ``[erased]`` (for
    erasure: masking keeps a hint, erasure keeps nothing)."""
    text = _EMAIL_IN_TEXT.sub(ERASED, text)
    text = _PHONE_IN_CHANNEL.sub(ERASED, text)
    return _PHONE_IN_TEXT.sub(_phone_or_not(ERASED), text)


class PersonalDataFilter(logging.Filter):
    """A logging filter that masks numbers and addresses in the final message of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True

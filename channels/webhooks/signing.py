"""The ``Hotline-Signature`` header: who sent a webhook, and that its body is intact and fresh.

Pure. Like Stripe's and Standard Webhooks' schemes::

    Hotline-Signature: t=1767000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0…

``t`` is the Unix time of the attempt; each ``v1`` is the hex HMAC-SHA256, keyed with a shared
secret, of ``"{t}."`` followed by the exact body bytes. While a secret is rotated the sender
holds both and sends one ``v1`` per secret; a receiver accepts the request when any ``v1``
matches any secret it holds and ``t`` is within its tolerance of its own clock (which bounds
replays). Unknown schemes (``v2=…``) are ignored, so a future scheme can be added beside
``v1`` without breaking receivers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Sequence

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "SIGNATURE_HEADER",
    "MalformedSignature",
    "SignatureError",
    "SignatureMismatch",
    "StaleSignature",
    "parse_header",
    "secrets_from",
    "sign",
    "signature",
    "verify",
]

SIGNATURE_HEADER = "Hotline-Signature"
TIMESTAMP = "t"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300.0
#: A header longer than this, or with more signatures, is refused unread.
MAX_HEADER_CHARS = 2048
MAX_SIGNATURES = 8

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SECRET_SEPARATORS = re.compile(r"[\s,]+")


class SignatureError(ValueError):
    """A request whose signature does not prove it came from us, intact and recently."""


class MalformedSignature(SignatureError):
    pass


class StaleSignature(SignatureError):
    pass


class SignatureMismatch(SignatureError):
    pass


def _key(secret: bytes | str) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def signature(secret: bytes | str, timestamp: int, body: bytes) -> str:
    """The ``v1`` value: hex HMAC-SHA256 of ``"{timestamp}."`` + ``body``."""
    signed = f"{timestamp}.".encode("ascii") + body
    return hmac.new(_key(secret), signed, hashlib.sha256).hexdigest()


def sign(body: bytes, secrets: Sequence[bytes | str], timestamp: int) -> str:
    """The header value, one ``v1`` per secret (newest first, by convention)."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    if len(secrets) > MAX_SIGNATURES:
        raise ValueError(f"at most {MAX_SIGNATURES} secrets at once")
    parts = [f"{TIMESTAMP}={timestamp}"]
    parts += [f"{SCHEME}={signature(secret, timestamp, body)}" for secret in secrets]
    return ",".join(parts)


def parse_header(header: str) -> tuple[int, tuple[str, ...]]:
    """``(t, v1 values)``; raises ``MalformedSignature``."""
    if len(header) > MAX_HEADER_CHARS:
        raise MalformedSignature(f"signature header longer than {MAX_HEADER_CHARS} characters")
    timestamp: int | None = None
    found: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise MalformedSignature(f"{part.strip()!r} is not key=value")
        if key == TIMESTAMP:
            digits = value.isascii() and value.isdigit() and len(value) <= 12
            if timestamp is not None or not digits:
                raise MalformedSignature("t must appear once, as a Unix time in seconds")
            timestamp = int(value)
        elif key == SCHEME:
            if not _HEX64.fullmatch(value):
                raise MalformedSignature("a v1 value must be 64 lowercase hex digits")
            found.append(value)
    if timestamp is None:
        raise MalformedSignature("no t= in the signature header")
    if not found:
        raise MalformedSignature("no v1= in the signature header")
    if len(found) > MAX_SIGNATURES:
        raise MalformedSignature(f"more than {MAX_SIGNATURES} signatures")
    return timestamp, tuple(found)


def verify(
    header: str,
    body: bytes,
    secrets: Iterable[bytes | str],
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check a received request; returns its ``t``.

    ``body`` is the raw request body, before any JSON parsing. ``now`` is the receiver's
    Unix time (default: ``time.time()``); ``t`` may be off by ``tolerance_s`` either way.
    Raises ``MalformedSignature``, ``StaleSignature`` or ``SignatureMismatch``.
    """
    timestamp, values = parse_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        skew = current - timestamp
        raise StaleSignature(f"t is {skew:+.0f} s from this clock, beyond ±{tolerance_s:g} s")
    expected = [signature(secret, timestamp, body) for secret in secrets]
    # Every comparison is made (no early exit), each in constant time.
    matched = False
    for value in values:
        for candidate in expected:
            matched |= hmac.compare_digest(value, candidate)
    if not matched:
        raise SignatureMismatch("no v1 signature matches a known secret")
    return timestamp


def secrets_from(value: str) -> tuple[bytes, ...]:
    """The secrets held in one environment variable: several (newest first, separated by
    spaces or commas) while a secret is rotated."""
    return tuple(part.encode("utf-8") for part in _SECRET_SEPARATORS.split(value) if part)

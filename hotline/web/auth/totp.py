"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), pure: no I/O, no clock.

A shared secret (20 random bytes, shown to the user as base32 and as an ``otpauth://`` URI
for their authenticator app) and the current 30-second *time step* give a 6-digit code.
``matching_step`` accepts the step before and after the current one (a phone's clock a
little off) and names the step a code matched, so the caller can refuse it a second time
(a code seen over a shoulder or replayed within its window): only a step later than the
last one accepted may be used.

Written here rather than taken from a library: the algorithm is twenty lines of ``hmac``,
the RFC's own test vectors check it (``tests/web/test_totp.py``), and what a library's
``verify`` does not give (the step matched, for the replay check) is what matters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

STEP_S = 30
DIGITS = 6
#: Steps accepted either side of the current one (RFC 6238 section 5.2 suggests one).
SKEW_STEPS = 1
SECRET_BYTES = 20  # RFC 4226's recommended length for HMAC-SHA1 (160 bits)
_ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, algorithm: str = "SHA1") -> str:
    """RFC 4226: the HMAC of the 8-byte counter, dynamically truncated to ``digits``."""
    mac = hmac.new(key, struct.pack(">Q", counter), _ALGORITHMS[algorithm]).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def time_step(unix_s: float, *, step_s: int = STEP_S) -> int:
    return int(unix_s // step_s)


def totp(
    key: bytes,
    unix_s: float,
    *,
    digits: int = DIGITS,
    step_s: int = STEP_S,
    algorithm: str = "SHA1",
) -> str:
    """RFC 6238: HOTP of the number of ``step_s`` steps since the Unix epoch."""
    return hotp(key, time_step(unix_s, step_s=step_s), digits=digits, algorithm=algorithm)


def new_secret() -> str:
    """A fresh secret as authenticator apps take it: base32, no padding."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def secret_bytes(secret: str) -> bytes:
    """A base32 secret (any case, spaces and padding tolerated) as bytes; ValueError if bad."""
    text = secret.replace(" ", "").upper().rstrip("=")
    try:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    except (ValueError, TypeError) as error:
        raise ValueError("not a base32 secret") from error


def normalise_code(code: str) -> str | None:
    """The digits of a typed code (spaces and a dash allowed); None if it cannot be one."""
    digits = code.replace(" ", "").replace("-", "")
    if len(digits) != DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits


def matching_step(
    secret: str,
    code: str,
    unix_s: float,
    *,
    after_step: int | None = None,
    skew: int = SKEW_STEPS,
) -> int | None:
    """The time step whose code ``code`` is, within ``skew`` steps of now and later than
    ``after_step`` (the last step accepted: no replay); None when it is none of them.
    Every candidate is compared in constant time, whether or not an earlier one matched."""
    digits = normalise_code(code)
    if digits is None:
        return None
    key = secret_bytes(secret)
    now = time_step(unix_s)
    found = None
    for step in range(now - skew, now + skew + 1):
        if hmac.compare_digest(hotp(key, step), digits) and found is None:
            found = step
    if found is None or (after_step is not None and found <= after_step):
        return None
    return found


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://totp/ISSUER:ACCOUNT?secret=...`` URI authenticator apps scan."""
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": 30},
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"

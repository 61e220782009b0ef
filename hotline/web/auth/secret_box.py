"""Secrets the server must read back (users' TOTP secrets), sealed at rest with a key kept
outside the database: a copy of the database, or of a backup, does not give the secrets.

AES-256-GCM (``cryptography``'s ``AESGCM``): a random 96-bit nonce per sealing, and the
row the value belongs to as associated data, so a sealed value copied onto another user's
row does not open. A sealed value reads ``v1:<key id>:<base64url(nonce + ciphertext)>``;
the key id (8 hex digits of the key's SHA-256) names the key that sealed it.

**The keys** come from ``HOTLINE_SECRET_KEYS`` (base64url 32-byte keys, comma-separated)
or else from a key file (``web.sign_in.two_factor.key_file``, ``var/secret.keys`` by
default: one key a line, ``#`` comments), which is created with one new key and mode 0600
on first use. The first key seals; every key listed opens. **Rotation**: put a new key
first and keep the old one after it; at start the service seals every value again with
the first key (``TwoFactorStore.seal_stored_secrets``); then the old key may go. Nodes
sharing one database must share the keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

KEYS_VARIABLE = "HOTLINE_SECRET_KEYS"
DEFAULT_KEY_FILE = Path("var/secret.keys")
KEY_BYTES = 32
NONCE_BYTES = 12
VERSION = "v1"


class SecretKeyError(Exception):
    """No usable key (a malformed key, an unreadable file), or a value that does not open."""


def new_key() -> str:
    """A fresh key as the key file and the environment variable hold it."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        key = b""
    if len(key) != KEY_BYTES:
        raise SecretKeyError(f"{where}: a key is {KEY_BYTES} bytes in base64url (44 characters)")
    return key


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


class SecretBox:
    """Seals and opens short secrets; ``keys[0]`` seals, any of ``keys`` opens."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise SecretKeyError("at least one key is needed")
        self._ids = [key_id(key) for key in keys]
        self._keys = {key_id(key): AESGCM(key) for key in keys}
        self._current = keys[0]

    @classmethod
    def ephemeral(cls) -> SecretBox:
        """A key that lives as long as the process: for tests and tools that never read a
        secret back after a restart (the service loads a kept one: ``load``)."""
        return cls([secrets.token_bytes(KEY_BYTES)])

    @classmethod
    def load(
        cls, key_file: Path = DEFAULT_KEY_FILE, environ: Mapping[str, str] | None = None
    ) -> SecretBox:
        """The keys from ``HOTLINE_SECRET_KEYS`` if set, else from ``key_file`` (created
        with one new key, mode 0600, when it does not exist)."""
        env = os.environ if environ is None else environ
        listed = env.get(KEYS_VARIABLE, "").strip()
        if listed:
            texts = [part for part in listed.split(",") if part.strip()]
            return cls([_decode_key(text, KEYS_VARIABLE) for text in texts])
        return cls(_file_keys(key_file))

    @property
    def current_id(self) -> str:
        return self._ids[0]

    def seal(self, plain: str, *, context: str) -> str:
        """``plain`` sealed for what ``context`` names (``web_users.totp_secret:7``)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._keys[self.current_id].encrypt(nonce, plain.encode(), context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{VERSION}:{self.current_id}:{body}"

    def open(self, stored: str, *, context: str) -> str:
        """The plain text of a value ``seal`` made for ``context``; SecretKeyError when it
        is not sealed, was sealed by a key not given, or was altered or moved."""
        parts = stored.split(":")
        if len(parts) != 3 or parts[0] != VERSION:
            raise SecretKeyError("not a sealed value")
        box = self._keys.get(parts[1])
        if box is None:
            raise SecretKeyError(f"sealed with key {parts[1]}, which is not among the keys")
        try:
            raw = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
            return box.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
        except (binascii.Error, ValueError, InvalidTag) as error:
            raise SecretKeyError("a sealed value that does not open (altered or moved)") from error

    def derive(self, purpose: str) -> bytes:
        """A key of its own for ``purpose`` (HMAC-SHA256 of it under the current key): the
        shared ACD log's signing key, the same on every node that has the same keys."""
        return hmac.new(self._current, purpose.encode(), hashlib.sha256).digest()

    def sealed_by_current(self, stored: str) -> bool:
        return stored.startswith(f"{VERSION}:{self.current_id}:")


def is_sealed(stored: str) -> bool:
    return stored.startswith(f"{VERSION}:")


def _file_keys(path: Path) -> list[bytes]:
    if not path.exists():
        _create_key_file(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is open to others (mode %o): chmod 600 it", path, mode & 0o777)
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise SecretKeyError(f"{path}: {error}") from error
    keys = [
        _decode_key(line, str(path)) for line in lines if line.strip() and not line.startswith("#")
    ]
    if not keys:
        raise SecretKeyError(f"{path} holds no key")
    return keys


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# hotline's key for secrets kept in the database (TOTP secrets). Back it up apart\n"
        "# from the database; without it, users must set up two-factor sign-in again.\n"
        "# Rotation (SECURITY.md): a new key on the first line, this one below it, restart;\n"
        "# then remove this one. A new key: python3 -c 'import base64, os;\n"
        "#   print(base64.urlsafe_b64encode(os.urandom(32)).decode())'\n"
        f"{new_key()}\n"
    )
    # Written whole under another name, then linked in place: a process starting at the
    # same moment sees no file or a whole one, and the first link wins.
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(text)
        os.link(draft, path)
    except FileExistsError:
        return
    finally:
        draft.unlink(missing_ok=True)
    log.warning("created %s with a new key for TOTP secrets: back it up", path)

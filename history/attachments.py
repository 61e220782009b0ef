"""The attachment store: messages' files on disk, content-addressed, never in the database.

A file is kept once, at ``root/<first two hex digits>/<sha256>``; the database holds its
metadata and the reference ``sha256:<hex>``. The name a sender gave never becomes a path (it
is sanitised for display and downloads only) and a reference is parsed, never joined, so
nothing is read or written outside ``root``. A write goes to a temporary file under
``root/.incoming``, fsync'd, then renamed into place: a crash leaves no half file under a
hash. Directories are 0700 and files 0600 (personal data). Disk I/O runs in a thread.

Limits on sizes per message are the conversations' (``history.conversations``); the store
refuses any single file over ``max_bytes`` as a last line of defence.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from history.errors import AttachmentMissing, AttachmentTooLarge, InvalidAttachment

REF_PREFIX = "sha256:"
_HEX = re.compile(r"^[0-9a-f]{64}$")
_INCOMING = ".incoming"
MAX_FILENAME_BYTES = 255
FALLBACK_FILENAME = "attachment"
OCTET_STREAM = "application/octet-stream"
_TOKEN = r"[a-z0-9!#$&^_.+\-]{1,127}"
CONTENT_TYPE = re.compile(rf"^{_TOKEN}/{_TOKEN}$")
#: Characters no file system or download dialog should see in a name.
_FORBIDDEN = set('<>:"|?*\\/')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10))}
_RESERVED |= {f"lpt{i}" for i in range(10)}


@dataclass(frozen=True, slots=True)
class AttachmentData:
    """A file as a channel received it: the name and type its sender gave, and the bytes."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class StoredFile:
    storage_ref: str
    sha256: str
    size: int


def sanitise_filename(name: str) -> str:
    """A name safe to show and to offer as a download: the last path component only, no
    control or format characters (a right-to-left override disguises ``exe.pdf``), none
    of ``<>:"|?*\\/``, no leading dots, at most 255 UTF-8 bytes (the extension kept)."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in name
        if unicodedata.category(ch)[0] != "C" or ch.isspace()
        if ch not in _FORBIDDEN
    )
    kept = " ".join(kept.split()).lstrip(".").strip()
    stem, dot, extension = kept.rpartition(".")
    if stem.lower() in _RESERVED or (not dot and kept.lower() in _RESERVED):
        kept = "_" + kept
    if len(kept.encode()) > MAX_FILENAME_BYTES:
        tail = ("." + extension)[:16] if dot else ""
        room = MAX_FILENAME_BYTES - len(tail.encode())
        head = kept[: len(kept) - len(tail)].encode()[:room].decode("utf-8", "ignore")
        kept = head.rstrip() + tail
    return kept or FALLBACK_FILENAME


def normalise_content_type(value: str) -> str:
    """``type/subtype`` in lower case, parameters dropped; anything else is refused."""
    kind = value.split(";", 1)[0].strip().lower()
    if not CONTENT_TYPE.match(kind):
        raise InvalidAttachment(f"content type {value[:100]!r} is not type/subtype")
    return kind


def digest_of(ref: str) -> str:
    """The hex digest a reference names; ``InvalidAttachment`` for anything else."""
    digest = ref.removeprefix(REF_PREFIX)
    if not ref.startswith(REF_PREFIX) or not _HEX.match(digest):
        raise InvalidAttachment(f"{ref[:80]!r} is not an attachment reference")
    return digest


class AttachmentStore:
    def __init__(self, root: Path, *, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def path_of(self, ref: str) -> Path:
        digest = digest_of(ref)
        path = self.root / digest[:2] / digest
        if not path.resolve().is_relative_to(self.root.resolve()):  # a symlinked directory
            raise InvalidAttachment(f"{ref} resolves outside the attachment store")
        return path

    async def put(self, data: bytes) -> StoredFile:
        """Keep the bytes (once: the same content is stored once) and say where."""
        if len(data) > self.max_bytes:
            raise AttachmentTooLarge("the file", len(data), self.max_bytes, "bytes")
        return await asyncio.to_thread(self._put, data)

    async def read(self, ref: str) -> bytes:
        """The bytes under ``ref``, checked against their hash: ``AttachmentMissing`` if the
        file is gone or changed on disk."""
        return await asyncio.to_thread(self._read, ref)

    async def delete(self, ref: str) -> bool:
        """Remove the file; False if it was not there."""
        path = self.path_of(ref)
        return await asyncio.to_thread(_unlink, path)

    async def stored(self, *, older_than_s: float = 0.0) -> list[str]:
        """Every file's reference (for sweeping orphans), those modified more than
        ``older_than_s`` ago only."""
        return await asyncio.to_thread(self._stored, older_than_s)

    def _put(self, data: bytes) -> StoredFile:
        digest = hashlib.sha256(data).hexdigest()
        ref = REF_PREFIX + digest
        final = self.path_of(ref)
        if not (final.exists() and final.stat().st_size == len(data)):
            final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            incoming = self.root / _INCOMING
            incoming.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor, partial = tempfile.mkstemp(dir=incoming)
            try:
                with os.fdopen(descriptor, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(partial, final)
            finally:
                _unlink(Path(partial))  # gone already once renamed into place
            _fsync_directory(final.parent)
        return StoredFile(storage_ref=ref, sha256=digest, size=len(data))

    def _read(self, ref: str) -> bytes:
        path = self.path_of(ref)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise AttachmentMissing(ref, "is not in the attachment store") from None
        if hashlib.sha256(data).hexdigest() != digest_of(ref):
            raise AttachmentMissing(ref, "changed on disk (its hash no longer matches)")
        return data

    def _stored(self, older_than_s: float) -> list[str]:
        if not self.root.is_dir():
            return []
        cutoff = time.time() - older_than_s
        found = []
        for shard in sorted(self.root.iterdir()):
            if shard.name == _INCOMING or not shard.is_dir():
                continue
            for path in sorted(shard.iterdir()):
                if _HEX.match(path.name) and path.stat().st_mtime <= cutoff:
                    found.append(REF_PREFIX + path.name)
        return found


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

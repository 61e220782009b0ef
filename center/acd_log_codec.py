"""The shared ACD log's records as bytes: pickled, then signed with HMAC-SHA256.

A record is a change to the distributor (``acd.commands``) or a snapshot of a node's whole
copy of it. Both are plain Python objects of the project's own types, so pickle carries them
with no codec of their own to keep in step; what pickle must never do is load bytes that a
stranger with access to Redis wrote, so every record is signed with the cluster's key and
checked (``hmac.compare_digest``) before it is unpickled. A node's own objects that a
snapshot refers to (its clock, its event sink) are not carried but named, and the loading
node puts its own in their place.
"""

from __future__ import annotations

import copyreg
import hashlib
import hmac
import io
import pickle
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["LogCodec", "TamperedRecord"]

_MAC = hashlib.sha256
_MAC_BYTES = _MAC().digest_size


class TamperedRecord(ValueError):
    """A record whose signature does not match: not written by a node with the key."""


def _proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Callable[..., object], tuple[object]]:
    return _read_only, (dict(proxy),)


def _read_only(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


class LogCodec:
    def __init__(self, key: bytes, own: Mapping[str, object]) -> None:
        """``key``: the cluster's signing key (every node has the same); ``own``: this
        node's objects that records name instead of carrying."""
        if len(key) < 16:
            raise ValueError("the cluster's signing key must be at least 16 bytes")
        self._key = key
        self._own = dict(own)
        self._names = {id(obj): name for name, obj in own.items()}
        self._tables = copyreg.dispatch_table.copy()
        self._tables[MappingProxyType] = _proxy

    def dumps(self, value: object) -> bytes:
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = self._tables
        names = self._names
        pickler.persistent_id = lambda obj: names.get(id(obj))  # type: ignore[method-assign]
        pickler.dump(value)
        body = buffer.getvalue()
        return hmac.new(self._key, body, _MAC).digest() + body

    def loads(self, data: bytes) -> object:
        mac, body = data[:_MAC_BYTES], data[_MAC_BYTES:]
        if not hmac.compare_digest(mac, hmac.new(self._key, body, _MAC).digest()):
            raise TamperedRecord("a shared ACD log record with a wrong signature")
        unpickler = pickle.Unpickler(io.BytesIO(body))
        own = self._own
        unpickler.persistent_load = lambda name: own[name]  # type: ignore[method-assign]
        return unpickler.load()

"""Whom the SMTP server receives mail for, and how much one peer may ask of it. Pure.

``AcceptedRecipients`` is the whole of the server's openness: mail for one of its addresses
or domains is received, anything else is refused at RCPT (550), so it never relays.
``PeerLimits`` bounds one client: connections at once (overall and per peer) and messages
per minute (a token bucket). A peer is its IPv4 address, or its IPv6 /64 (one host holds a
whole /64, so counting addresses would count nothing).
"""

from __future__ import annotations

import enum
import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: Peers whose message rate is remembered at most; the least recently seen are forgotten.
MAX_TRACKED_PEERS = 10_000
_IPV6_PREFIX = 64


class Recipient(enum.Enum):
    ACCEPTED = "accepted"
    UNKNOWN_MAILBOX = "unknown mailbox"  # one of our domains, not one of our addresses
    NOT_OURS = "not ours"  # another domain: relaying, refused


@dataclass(frozen=True)
class AcceptedRecipients:
    """Addresses (``support@example.com``) and whole domains (``example.com`` or
    ``@example.com``), compared without regard to case."""

    addresses: frozenset[str]
    domains: frozenset[str]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AcceptedRecipients:
        addresses: set[str] = set()
        domains: set[str] = set()
        for entry in entries:
            value = entry.strip().lower()
            local, at, domain = value.rpartition("@")
            if not domain or "@" in local or any(ch.isspace() for ch in value) or "." not in domain:
                raise ValueError(f"accepted recipient {entry!r} is not an address or a domain")
            if at and local:
                addresses.add(value)
            else:
                domains.add(domain)
        if not addresses and not domains:
            raise ValueError("no accepted recipients: the server would receive nothing")
        return cls(frozenset(addresses), frozenset(domains))

    def decide(self, address: str) -> Recipient:
        value = address.strip().lower()
        local, at, domain = value.rpartition("@")
        if not at or not local:
            return Recipient.NOT_OURS
        if value in self.addresses or domain in self.domains:
            return Recipient.ACCEPTED
        if any(known.endswith(f"@{domain}") for known in self.addresses):
            return Recipient.UNKNOWN_MAILBOX
        return Recipient.NOT_OURS


@dataclass(frozen=True)
class PeerLimitSettings:
    max_connections: int = 500
    max_connections_per_peer: int = 20
    max_messages_per_peer_per_minute: int = 120  # also the burst a peer may send at once

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 1:
                raise ValueError(f"SMTP peer limit {name} must be at least 1, not {value}")


def peer_key(address: str) -> str:
    """The peer an address belongs to (see the module's doc)."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{_IPV6_PREFIX}", strict=False))
    return str(ip)


class PeerLimits:
    def __init__(
        self, settings: PeerLimitSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._connections: dict[str, int] = {}
        self.total_connections = 0
        self._buckets: dict[str, tuple[float, float]] = {}  # peer -> (tokens, at)

    def admit(self, peer: str) -> str | None:
        """Counts a new connection from ``peer``; the reason when it is one too many."""
        if self.total_connections >= self.settings.max_connections:
            return "too many connections"
        if self._connections.get(peer, 0) >= self.settings.max_connections_per_peer:
            return "too many connections from your address"
        self._connections[peer] = self._connections.get(peer, 0) + 1
        self.total_connections += 1
        return None

    def release(self, peer: str) -> None:
        """The end of a connection ``admit`` counted."""
        left = self._connections.get(peer, 0) - 1
        if left > 0:
            self._connections[peer] = left
        else:
            self._connections.pop(peer, None)
        self.total_connections = max(0, self.total_connections - 1)

    def take_message(self, peer: str) -> bool:
        """One message from ``peer`` if its rate allows (a token bucket)."""
        capacity = float(self.settings.max_messages_per_peer_per_minute)
        now = self._clock()
        tokens, at = self._buckets.pop(peer, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * capacity / 60.0)
        allowed = tokens >= 1.0
        self._buckets[peer] = (tokens - 1.0 if allowed else tokens, now)  # most recent last
        while len(self._buckets) > MAX_TRACKED_PEERS:
            del self._buckets[next(iter(self._buckets))]
        return allowed

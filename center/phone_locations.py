"""Where each agent's phone is registered, and how to dial it from here: the pure part.

With several Asterisks in one cluster (``hotline.yaml`` ``cluster:``), an agent's softphone
registers on one of them, and a call may wait on any. Each node learns from its own
Asterisk's AMI which endpoints have a contact that can be rung (``LocalContacts``: each
agent endpoint's ``PJSIP_DIAL_CONTACTS`` at each login, then ``ContactStatus`` events),
and the nodes share what they learnt (``center.phone_registry``). The node whose session
holds a call then picks the dial string (``dial_string``):

==================================================  ======================================
the agent's phone (``PJSIP/<name>`` in agents.yaml)  dialled as
==================================================  ======================================
registered on this node's Asterisk                  ``PJSIP/<name>`` (as without a cluster)
registered on a peer with a trunk in                ``PJSIP/<name>@<trunk>``: the peer's
``cluster.peers``                                   ``hotline-peers`` context dials it there
registered nowhere known, or on a peer without a    ``PJSIP/<name>``: this Asterisk says
trunk, or not a PJSIP endpoint                      whether it can (CHANUNAVAIL if not)
==================================================  ======================================

Here wins over a peer (no trunk hop when the phone is here too); among peers, the first by
system name, so every node decides alike.

"Here" is the call's own Asterisk: a node may serve the FastAGI of an Asterisk other than
the one its AMI follows (a standby taking over an Asterisk's calls), and the Dial runs on
the Asterisk that holds the caller. With ``systemname`` set, that Asterisk's uniqueids (the
call's id, the AGI's ``agi_uniqueid``) are ``<systemname>-<epoch>.<seq>``
(``call_system``); the phones are then seen from it (``PhoneMap.seen_from``): those
registered on it are dialled directly, this node's own are a peer's like any other. The
trunk endpoints are named alike on every Asterisk (``peer-<system>``, configure.sh), so
``cluster.peers`` names them for any of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from telephony.ami_codec import AmiMessage

__all__ = [
    "CONTACT_GONE",
    "LocalContacts",
    "PhoneMap",
    "call_system",
    "dial_contacts",
    "dial_string",
    "endpoint_name",
    "leg_prefix",
    "trunk_channel_prefixes",
]

#: Contact states in which the phone cannot be rung there (every other state: Created,
#: Reachable, Updated, Unknown, NonQualified, Unqualified: it can, or Asterisk will try).
CONTACT_GONE: Final = frozenset({"unreachable", "removed"})
_PJSIP: Final = "pjsip"
#: A uniqueid with Asterisk's systemname in front (transfer segments: ``-t<n>`` after it).
_SYSTEM_UNIQUEID: Final = re.compile(r"^(?P<system>.+)-[0-9]+\.[0-9]+(?:-t[0-9]+)?$")


def call_system(call_id: str) -> str | None:
    """The system name of the Asterisk a call is on, from its id (the caller's uniqueid,
    ``asterisk-b-1733000000.42``, or a transfer segment's, ``...-t1``); None when its
    Asterisk has no ``systemname`` (``1733000000.42``) or the id is not a uniqueid."""
    found = _SYSTEM_UNIQUEID.match(call_id)
    return None if found is None else found.group("system")


def endpoint_name(endpoint: str) -> str | None:
    """``agent1001`` of a plain ``PJSIP/agent1001`` (lower case); None for anything else
    (another technology, an endpoint already ``@`` somewhere, several phones)."""
    tech, slash, name = endpoint.partition("/")
    if tech.lower() != _PJSIP or not slash or not name:
        return None
    if any(c in name for c in "@/&,"):
        return None
    return name.lower()


@dataclass(frozen=True, slots=True)
class PhoneMap:
    """What is known of the phones' whereabouts at one moment."""

    #: the endpoints with a contact that can be rung on this node's Asterisk
    here: frozenset[str] = frozenset()
    #: peer Asterisk (system name) -> the endpoints registered there
    elsewhere: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: the system name of "here" (None: not known)
    system: str | None = None

    def seen_from(self, system: str | None) -> PhoneMap:
        """The same phones as seen from the Asterisk ``system`` (a call's own): those
        registered there are here, this map's own are on a peer. None, or this map's own
        system: unchanged."""
        if system is None or system == self.system:
            return self
        everywhere = dict(self.elsewhere)
        if self.system is not None:
            everywhere[self.system] = self.here
        here = everywhere.pop(system, frozenset())
        return PhoneMap(here, everywhere, system)

    def systems_of(self, name: str) -> list[str]:
        """The peers where ``name`` is registered, by system name."""
        return sorted(system for system, names in self.elsewhere.items() if name in names)


def dial_string(
    endpoint: str, phones: PhoneMap, trunks: Mapping[str, str], system: str | None = None
) -> str:
    """How to dial the agents.yaml ``endpoint`` from the Asterisk ``system`` (the call's;
    None: the one ``phones`` sees from, this node's)."""
    phones = phones.seen_from(system)
    name = endpoint_name(endpoint)
    if name is None or name in phones.here:
        return endpoint
    for system in phones.systems_of(name):
        trunk = trunks.get(system)
        if trunk:
            return f"PJSIP/{endpoint.partition('/')[2]}@{trunk}"
    return endpoint


def leg_prefix(dialled: str) -> str:
    """The name prefix of the channel a dial string makes (``PJSIP/agent1002-``, or the
    trunk's ``PJSIP/peer-asterisk-b-`` for ``PJSIP/agent1002@peer-asterisk-b``)."""
    tech, _, rest = dialled.partition("/")
    _, at, trunk = rest.partition("@")
    return f"{tech}/{trunk if at else rest}-"


def trunk_channel_prefixes(trunks: Mapping[str, str]) -> frozenset[str]:
    """Channel name prefixes (lower case, ``pjsip/<trunk>-``) of legs dialled through the
    trunks: an agent's leg rung through a peer is a channel of the trunk here."""
    return frozenset(f"pjsip/{trunk.lower()}-" for trunk in trunks.values())


def dial_contacts(value: str) -> list[str]:
    """The contact URIs of a ``PJSIP_DIAL_CONTACTS`` value (``PJSIP/<endpoint>/<uri>``,
    ``&``-joined; empty: none can be rung)."""
    uris = []
    for part in value.split("&"):
        tech, _, rest = part.strip().partition("/")
        _, slash, uri = rest.partition("/")
        if tech.lower() == _PJSIP and slash and uri:
            uris.append(uri)
    return uris


class LocalContacts:
    """The contacts on this node's Asterisk, as AMI tells them: ``reset`` with each agent
    endpoint's ``PJSIP_DIAL_CONTACTS`` (at each login: events may have been missed), then
    ``apply`` each ``ContactStatus``. ``endpoints`` are those with a contact that can be
    rung.

    Real Asterisk 20 tells a registration as ``ContactStatus`` NonQualified, then
    Reachable once qualified; Unreachable when qualify fails; Removed when it expires or
    the phone unregisters."""

    def __init__(self) -> None:
        #: endpoint (lower case) -> contact URI -> its state (lower case)
        self._contacts: dict[str, dict[str, str]] = {}

    def reset(self, dial_contacts_of: Mapping[str, str]) -> None:
        """Endpoint name -> its ``PJSIP_DIAL_CONTACTS`` value (the contacts that can be
        rung now)."""
        self._contacts.clear()
        for endpoint, value in dial_contacts_of.items():
            for uri in dial_contacts(value):
                self._set(endpoint, uri, "reachable")

    def clear(self) -> None:
        """Nothing is known (AMI is down): nothing is claimed."""
        self._contacts.clear()

    def apply(self, event: AmiMessage) -> bool:
        """One ``ContactStatus`` (``EndpointName``, ``URI``, ``ContactStatus``); True when
        the endpoints that can be rung changed."""
        before = self.endpoints()
        self._set(event.get("EndpointName"), event.get("URI"), event.get("ContactStatus"))
        return self.endpoints() != before

    def _set(self, endpoint: str | None, uri: str | None, status: str | None) -> None:
        if not endpoint or not uri:
            return
        key, state = endpoint.lower(), (status or "").lower()
        contacts = self._contacts.setdefault(key, {})
        if state == "removed":
            contacts.pop(uri, None)
        else:
            contacts[uri] = state
        if not contacts:
            del self._contacts[key]

    def endpoints(self) -> frozenset[str]:
        return frozenset(
            endpoint
            for endpoint, contacts in self._contacts.items()
            if any(state not in CONTACT_GONE for state in contacts.values())
        )

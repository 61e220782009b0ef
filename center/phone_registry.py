"""Agents' phones on any Asterisk of the cluster: each node tells the others which agent
endpoints are registered on its Asterisk, and rings a phone registered on a peer through
the trunk to it (``center.phone_locations`` decides; this is the I/O).

* **From AMI**: at each login, ``CoreSettings`` (this Asterisk's ``SystemName``) and each
  agent endpoint's contacts that can be rung (``Getvar PJSIP_DIAL_CONTACTS(<endpoint>)``:
  ``PJSIPShowContacts`` would need the AMI user's ``write=system``, which also allows
  ``Reload``, ``ModuleLoad`` and ``DBPut``); then each ``ContactStatus`` event. While AMI
  is down nothing is claimed: what this node does not know, it does not say.
* **Shared through Redis**, one key per node process (``hotline:phones:<node>.<run>``: the
  system name and the endpoints registered there), written with an expiry of
  ``node_ttl_s`` and written again every third of it and at once on a change. A node that
  dies stops writing and its phones are dropped when the key expires, with no other node
  having to notice. Every node reads the others' keys at the same pace.

Why keys with an expiry and not the shared ACD's log: where a phone is registered is a fact
about one Asterisk, not a decision of the distributor, so it needs no place in the log's
total order (the node that holds a call picks the dial string when it rings, from what it
knows then); in the log, every register and qualify flap would be replayed by every copy
and carried in every snapshot, and a lost node's phones would wait for a leader to declare
them gone, the leader itself being the node lost some of the time.

A phone that moved is known elsewhere within a third of ``node_ttl_s`` (1 s by default);
rung meanwhile at its old place it fails as unreachable and the call goes back in line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from center.phone_locations import (
    LocalContacts,
    PhoneMap,
    dial_string,
    endpoint_name,
    trunk_channel_prefixes,
)
from telephony.ami_client import AmiClient, AmiError
from telephony.ami_codec import (
    ACTION_CORE_SETTINGS,
    ACTION_GETVAR,
    EVENT_CONTACT_STATUS,
    FUNCTION_PJSIP_DIAL_CONTACTS,
    HEADER_VALUE,
    AmiMessage,
)

log = logging.getLogger(__name__)

__all__ = ["PhoneRegistry"]

HEADER_SYSTEM_NAME: Final = "SystemName"
#: A key's value beyond this is not read (a node's phones: a few kB for hundreds).
_MAX_VALUE = 1 << 20


class PhoneRegistry:
    """This node's phones, shared; the others', read; ``route`` picks a dial string."""

    def __init__(
        self,
        redis_url: str,
        node_id: str,
        trunks: Mapping[str, str],
        *,
        endpoints: Callable[[], Iterable[str]],
        ttl_s: float,
        prefix: str = "hotline:phones",
    ) -> None:
        self.trunks = dict(trunks)
        #: the agents' endpoints (agents.yaml, as reloaded)
        self._endpoints = endpoints
        self._ttl_s = ttl_s
        self._prefix = prefix
        self._key = f"{prefix}:{node_id}.{uuid.uuid4().hex[:8]}"
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            redis_url, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        self._local = LocalContacts()
        #: ContactStatus events told while ``_resync`` reads the contacts (applied after)
        self._during_resync: list[AmiMessage] | None = None
        self._ami: AmiClient | None = None
        #: this node's Asterisk's system name (None: not learnt yet, or AMI is down)
        self.system: str | None = None
        self._elsewhere: dict[str, frozenset[str]] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._unsubscribe: list[Callable[[], None]] = []
        #: channel prefixes of legs rung through a trunk (``center.agent_feed``)
        self.trunk_legs = trunk_channel_prefixes(self.trunks)

    # what the offer loop and the AMI feed ask ------------------------------------------
    @property
    def phones(self) -> PhoneMap:
        here = self._local.endpoints() if self.system is not None else frozenset()
        others = {s: names for s, names in self._elsewhere.items() if s != self.system}
        return PhoneMap(here, others, self.system)

    def route(self, endpoint: str, system: str | None = None) -> str:
        """The dial string of the agents.yaml ``endpoint`` from the Asterisk ``system``
        (the call's, ``call_system``; None: this node's)."""
        dialled = dial_string(endpoint, self.phones, self.trunks, system)
        if dialled != endpoint:
            log.info("phone %s is registered on a peer: dialled %s", endpoint, dialled)
        return dialled

    def registered_elsewhere(self, endpoint: str) -> bool:
        """Is ``endpoint`` registered on a peer and not here (its device here is
        unavailable, and that does not make the agent unreachable)?"""
        name = endpoint_name(endpoint)
        phones = self.phones
        return name is not None and name not in phones.here and bool(phones.systems_of(name))

    # AMI ---------------------------------------------------------------------------------
    def attach(self, ami: AmiClient) -> None:
        self._ami = ami
        self._unsubscribe.append(ami.on_event(EVENT_CONTACT_STATUS, self.handle))
        ami.on_connected(self._resync)

    def handle(self, message: AmiMessage) -> None:
        """One ``ContactStatus`` (inline in the AMI reader: quick, no awaits)."""
        if self._during_resync is not None:
            self._during_resync.append(message)
        if self._local.apply(message):
            self._changed.set()

    async def _resync(self, reconnected: bool) -> None:
        """After each login: this Asterisk's name and every contact, anew."""
        ami = self._ami
        if ami is None:
            return
        # as agents.yaml spells them: PJSIP endpoint names are case-sensitive
        names = sorted({e.partition("/")[2] for e in self._endpoints() if endpoint_name(e)})
        self._during_resync = []
        contacts: dict[str, str] = {}
        try:
            settings = await ami.action(ACTION_CORE_SETTINGS)
            for name in names:
                variable = f"{FUNCTION_PJSIP_DIAL_CONTACTS}({name})"
                answer = await ami.action(ACTION_GETVAR, Variable=variable)
                contacts[name] = answer.get(HEADER_VALUE) or ""
        except AmiError as exc:
            log.warning("phones registered on this Asterisk not read: %s", exc)
            self._during_resync = None
            return
        name = settings.get(HEADER_SYSTEM_NAME) or ""
        if not name:
            log.error(
                "this Asterisk has no systemname (asterisk.conf [options]): the other nodes "
                "cannot tell where its phones are; set HOTLINE_SYSTEM_NAME (docker/README.md)"
            )
        self.system = name or None
        self._local.reset(contacts)
        for event in self._during_resync or ():  # told while the contacts were read
            self._local.apply(event)
        self._during_resync = None
        log.info(
            "Asterisk %s: %d agent phones registered", name or "?", len(self._local.endpoints())
        )
        self._changed.set()

    # Redis ------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="phone-registry")

    async def close(self, *, leave: bool = True) -> None:
        """Stop; ``leave``: delete this node's key now (False: it expires, as a killed
        node's does)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        # the loop stops even if the Redis client swallowed its cancellation (seen: the task
        # went on waiting, and close with it)
        self._closed = True
        self._changed.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=self._ttl_s)
        if leave:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(self._ttl_s):
                    await self._redis.delete(self._key)  # gone now, not a TTL later
        await self._redis.aclose()

    async def _run(self) -> None:
        while not self._closed:
            self._changed.clear()
            try:
                await self._publish()
                await self._read()
            except (RedisError, OSError) as exc:
                log.warning("phone locations not shared (Redis): %s", exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._ttl_s / 3):
                    await self._changed.wait()

    async def _publish(self) -> None:
        ami = self._ami
        if ami is None or not ami.connected:
            self.system = None  # asked again at the next login
            self._local.clear()
        if self.system is None:
            await self._redis.delete(self._key)
            return
        value = json.dumps({"system": self.system, "endpoints": sorted(self._local.endpoints())})
        await self._redis.set(self._key, value, px=max(1, round(self._ttl_s * 1000)))

    async def _read(self) -> None:
        keys = [key async for key in self._redis.scan_iter(match=f"{self._prefix}:*", count=500)]
        values = await self._redis.mget(keys) if keys else []
        elsewhere: dict[str, set[str]] = {}
        for key, raw in zip(keys, values, strict=True):
            if raw is None or key == self._key.encode() or len(raw) > _MAX_VALUE:
                continue
            try:
                data = json.loads(raw)
                system, names = str(data["system"]), [str(n).lower() for n in data["endpoints"]]
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("phone locations %r unreadable: %s", key, exc)
                continue
            elsewhere.setdefault(system, set()).update(names)
        self._elsewhere = {system: frozenset(names) for system, names in elsewhere.items()}

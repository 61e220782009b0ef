"""Leading the shared ACD (``center.acd_cluster``): the lease and its epoch, the leader's
announcement in the log, a new generation when Redis lost the log, snapshots and the log's
trimming behind them, the nodes' heartbeats and declaring lost the nodes whose heartbeat
expired.

A part of ``center.acd_cluster.AcdCluster``, which holds the state and follows the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from center.acd_log_records import COMMAND, LEADER, SNAPSHOT, ClusterSettings, Copy, NodeLost

if TYPE_CHECKING:
    from center.acd_log_codec import LogCodec
    from center.service import AcdService

log = logging.getLogger(__name__)

__all__ = ["RENEW", "Leadership"]

#: Starts a generation: the snapshot as the log's first record (only if there is no log).
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local id = redis.call('XADD', KEYS[1], '*', 'k', 's', 'n', ARGV[1], 'q', '0', 'e', ARGV[2],
  'd', ARGV[3], 'g', ARGV[4])
redis.call('SET', KEYS[2], id)
return id
"""
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
#: The next epoch: one more than any this leader's copy or Redis has seen.
_EPOCH = """
local e = tonumber(redis.call('GET', KEYS[1]) or '0')
if e < tonumber(ARGV[1]) then e = tonumber(ARGV[1]) end
e = e + 1
redis.call('SET', KEYS[1], e)
return e
"""


class Leadership:
    if TYPE_CHECKING:  # the cluster node's state these use
        settings: ClusterSettings
        member: str
        _service: AcdService
        _codec: LogCodec
        _redis: aioredis.Redis
        _copy: Copy
        _outbox: deque[tuple[bytes, int, int, bytes]]
        _mine: deque[tuple[int, bytes]]
        _wake: asyncio.Event
        _lease: bool
        _leading_since: float
        _epoch: int
        _seq: int
        _since_snapshot: int
        _declared: set[str]
        _closed: bool
        _log_key: str
        _snap_key: str
        _trim_key: str
        _lease_key: str
        _epoch_key: str
        snapshots: int
        snapshot_bytes: int | None
        snapshot_write_s: float | None
        nodes_alive: int | None

        async def end(self) -> None: ...

        @property
        def leads(self) -> bool: ...

    async def _lead(self) -> None:
        every = self.settings.lease_s / 3
        while not self._closed:
            try:
                await self._lead_once()
            except (RedisError, OSError) as error:
                if self._lease:
                    log.warning("shared ACD leadership lost: %s", error)
                self._lease = False
                self._service.rearm()
            except Exception:  # the task's boundary: log, and try again
                log.exception("shared ACD leadership round failed")
            await asyncio.sleep(every)

    async def _lead_once(self) -> None:
        ms = int(self.settings.lease_s * 1000)
        r = self._redis
        if self._lease:
            if not await r.eval(RENEW, 1, self._lease_key, self.member, ms):
                log.warning("node %s no longer leads the shared ACD", self.member)
                self._lease = False
                self._service.rearm()
                return
            if not self.leads and self._unannounced():
                self._announce()  # the log never said so (its record lost with Redis)
        elif await r.set(self._lease_key, self.member, nx=True, px=ms):
            self._epoch = int(await r.eval(_EPOCH, 1, self._epoch_key, self._copy.epoch))
            generation = uuid.uuid4().hex
            data = self._codec.dumps(replace(self._copy, generation=generation))
            started = time.perf_counter()
            if await r.eval(
                _CREATE,
                2,
                self._log_key,
                self._snap_key,
                self.member,
                self._epoch,
                data,
                generation,
            ):
                self._wrote(data, started)
                log.warning("shared ACD log started (new generation) by %s", self.member)
            self._lease = True
            self._announce()
            log.info("node %s leads the shared ACD (epoch %d)", self.member, self._epoch)
            return
        if self.leads:
            # a new leader gives every node one heartbeat's life to show itself (after a
            # Redis restart, no heartbeat key is left) before declaring any lost
            if time.monotonic() - self._leading_since >= self.settings.node_ttl_s:
                await self._watch_nodes()
            if self._since_snapshot >= self.settings.snapshot_every:
                await self._snapshot()

    def _announce(self) -> None:
        """Say in the log that this node leads, at its epoch (copies follow the log)."""
        self._leading_since = time.monotonic()
        said = self._codec.dumps((self.member, self._epoch))
        self._outbox.appendleft((LEADER, 0, self._epoch, said))
        self._wake.set()

    def _unannounced(self) -> bool:
        """Leading for a lease's life and the log still names another leader, with no
        announcement waiting to go."""
        waiting = any(record[0] == LEADER for record in self._outbox)
        late = time.monotonic() - self._leading_since > self.settings.lease_s
        return late and not waiting

    async def _watch_nodes(self) -> None:
        members = set(self._copy.owners.values()) - {self.member}
        for member in sorted(members - self._declared):
            if not await self._redis.exists(self._member_key(member)):
                self._declared.add(member)
                data = self._codec.dumps(NodeLost(member))
                self._seq += 1
                self._mine.append((self._seq, data))
                self._outbox.append((COMMAND, self._seq, self._epoch, data))
                self._wake.set()
        self._declared &= members

    async def _snapshot(self) -> None:
        copy = self._copy
        for call_id in [c for c in copy.owners if copy.distributor.call_state(c) is None]:
            del copy.owners[call_id]
        data = self._codec.dumps(copy)
        started = time.perf_counter()
        entry = await self._redis.xadd(
            self._log_key,
            {
                "k": SNAPSHOT,
                "n": self.member,
                "q": 0,
                "e": self._epoch,
                "d": data,
                "g": copy.generation,
            },
        )
        await self._redis.set(self._snap_key, entry)
        # the log keeps what a node reading the previous snapshot still needs
        previous = await self._redis.getset(self._trim_key, copy.position)
        if previous is not None:
            await self._redis.xtrim(self._log_key, minid=previous)
        self._since_snapshot = 0
        self._wrote(data, started)
        log.info("shared ACD snapshot %s: %d bytes", entry, len(data))

    def _wrote(self, data: bytes, started: float) -> None:
        """A snapshot written (the figures): its size, and how long since ``started``."""
        self.snapshots += 1
        self.snapshot_bytes = len(data)
        self.snapshot_write_s = time.perf_counter() - started

    async def _beat(self) -> None:
        """This node's heartbeat key; and a look at the others' and at the log's end."""
        ms = int(self.settings.node_ttl_s * 1000)
        while not self._closed:
            with contextlib.suppress(RedisError, OSError):
                await self._redis.set(self._member_key(self.member), 1, px=ms)
                match = self._member_key("*")
                self.nodes_alive = len([k async for k in self._redis.scan_iter(match=match)])
                await self.end()
            await asyncio.sleep(self.settings.node_ttl_s / 3)

    def _member_key(self, member: str) -> str:
        return f"{self.settings.prefix}:node:{member}"

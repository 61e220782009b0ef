"""Several hotline nodes, one ACD: every node keeps a copy of the distributor, and every
change to it goes through one ordered log in Redis, a stream, applied by every copy in the
stream's order at the stream's time.

The distributor is deterministic (``acd.commands``), so copies that apply the same changes in
the same order at the same times hold the same calls, agents and queue order, and make the
same offers: no node decides alone, none can offer an agent a call another node already
offered them. Each node acts on what concerns it: the session of a call that waits on this
node dials the offer's agent; the other nodes know of it and keep still (``owns``).

* **Order and time.** ``XADD`` gives each change an id from Redis's clock, increasing; a
  change is applied at that time (``LogClock``), on every node alike.
* **Exactly once.** A node numbers its changes; a copy applies each (node, number) once, so
  a change sent again (after Redis lost it) is not applied twice.
* **The leader** holds a lease (``SET NX PX``, renewed at a third of its life) and an epoch
  (one more at each new leader, written in the log): it asks for the timer's ticks, writes
  snapshots and declares lost the nodes whose heartbeat key expired. A node lost has its
  calls leave the ACD ("node lost": their callers are in their Asterisk's fallback, the AGI
  session having gone with the node); its chats and e-mails stay, place and agent kept,
  the declaring leader's from then on (``_lost``); a declaration from a leader no longer
  in charge (an older epoch) is ignored: the fence.
* **Snapshots.** Every ``snapshot_every`` changes the leader writes its whole copy into the
  log, and a node that starts reads the newest snapshot and what follows it. Redis may lose
  everything (restarted with no persistence): changes find no log and wait in their node's
  outbox; the next leader writes its copy as the first record of a new generation, every
  node takes it and sends again its own changes that the snapshot has not seen.

``AcdService.share`` hands the service's changes here; ``AcdService.apply`` is what the log
calls back, in order, on every node. Leading is ``center.acd_leadership``; the records, the
copy and its clock are ``center.acd_log_records``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from acd.agent_events import AgentError
from acd.commands import CallArrived, CallerLeft, Command, Reconcile, Tick
from acd.contacts import VOICE_SEAT
from acd.events import EventRecord
from acd.router import RoutingError
from center.acd_cluster_figures import ClusterFigures, log_seconds
from center.acd_leadership import RENEW, Leadership
from center.acd_log_codec import LogCodec, TamperedRecord
from center.acd_log_records import (
    COMMAND,
    LEADER,
    SNAPSHOT,
    ClusterSettings,
    Copy,
    LogClock,
    NodeLost,
)
from center.service import AcdService

log = logging.getLogger(__name__)

__all__ = ["AcdCluster", "ClusterSettings", "LogClock", "NodeLost"]

#: Appends a batch of records only if the log exists: after Redis lost it, the next leader
#: must write the snapshot first, so no change lands in front of it.
_APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local ids = {}
for i = 1, #ARGV, 5 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'k', ARGV[i], 'n', ARGV[i + 1],
    'q', ARGV[i + 2], 'e', ARGV[i + 3], 'd', ARGV[i + 4])
end
return ids
"""
#: The log's last record id (the stream's end), without carrying any record's data.
_END = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then return info[i + 1] end
end
return false
"""
_BATCH = 256
_YIELD_EVERY = 100
#: A tick is applied at the time it was due, up to this far past the log's own time (the
#: log counts whole milliseconds; the leader's clock may run a little ahead of Redis's).
_TICK_SLACK_S = 0.05
_LEAVING_ORDER = {"waiting": 0, "offered": 1, "connected": 2}
_RETRY_S = 0.2


class AcdCluster(Leadership):
    def __init__(
        self,
        settings: ClusterSettings,
        service: AcdService,
        clock: LogClock,
        *,
        key: bytes,
    ) -> None:
        """``service`` runs on ``clock``; ``key`` signs the log's records (every node has
        the same)."""
        self.settings = settings
        self.member = f"{settings.node_id}.{uuid.uuid4().hex[:8]}"
        self._service = service
        self._clock = clock
        self._codec = LogCodec(key, {"clock": clock, "sink": service.event_sink})
        p = settings.prefix
        self._log_key, self._snap_key = f"{p}:log", f"{p}:snap"
        self._trim_key = f"{p}:trim"
        self._lease_key, self._epoch_key = f"{p}:leader", f"{p}:epoch"
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            settings.redis_url, socket_timeout=5.0, socket_connect_timeout=2.0
        )
        self._reader: aioredis.Redis = aioredis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=2.0
        )
        self._copy = Copy(uuid.uuid4().hex, service.distributor)
        self._last_id = "0-0"
        self._joined = asyncio.Event()
        self._seq = 0
        #: this node's changes not yet in a snapshot (sent again into a new generation)
        self._mine: deque[tuple[int, bytes]] = deque()
        #: ``settled`` callers: the change of this node each waits for, and its future
        self._settling: list[tuple[int, asyncio.Future[None]]] = []
        #: records waiting to be appended (a record: kind, number, epoch, data)
        self._outbox: deque[tuple[bytes, int, int, bytes]] = deque()
        self._wake = asyncio.Event()
        self._lease = False
        self._leading_since = 0.0
        self._epoch = 0
        self._since_snapshot = 0
        self._declared: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        #: why the last read of the log failed (None: it did not)
        self._unreachable: str | None = None
        #: the current change's log id and how many events it made (their keys)
        self._entry: tuple[str, int] | None = None
        # figures (``figures``): changes applied, records refused (a wrong signature) and
        # skipped (malformed), snapshots written; the nodes alive and the log's end as the
        # heartbeat last saw them
        self.applied = 0
        self.refused = 0
        self.skipped = 0
        self.snapshots = 0
        self.snapshot_bytes: int | None = None
        self.snapshot_write_s: float | None = None
        self.nodes_alive: int | None = None
        self.log_end: str | None = None

    # SharedLog -------------------------------------------------------------------------
    @property
    def leads(self) -> bool:
        c = self._copy
        return self._lease and c.leader == self.member and c.epoch == self._epoch

    def submit(self, command: Command) -> None:
        self._seq += 1
        data = self._codec.dumps(command)
        self._mine.append((self._seq, data))
        self._outbox.append((COMMAND, self._seq, self._epoch, data))
        self._wake.set()

    async def settled(self, timeout_s: float) -> bool:
        if self.caught_up:
            return True
        waiter = asyncio.get_running_loop().create_future()
        entry = (self._seq, waiter)
        self._settling.append(entry)
        try:
            async with asyncio.timeout(timeout_s):
                await waiter
        except TimeoutError:
            return False
        finally:
            if entry in self._settling:
                self._settling.remove(entry)
        return True

    def owns(self, call_id: str) -> bool:
        return self._copy.owners.get(call_id) == self.member

    def problem(self) -> str | None:
        """Why this node cannot serve the shared ACD now (readiness), or None."""
        if not self._joined.is_set():
            return "not joined to the shared ACD yet"
        if self._unreachable is not None:
            waiting = f"; {len(self._outbox)} changes wait" if self._outbox else ""
            return f"shared ACD log unreachable: {self._unreachable}{waiting}"
        return None

    def figures(self) -> ClusterFigures:
        """This node's figures (``/metrics``), from the state readiness reads too."""
        copy = self._copy
        return ClusterFigures(
            node=self.member,
            leads=self.leads,
            epoch=copy.epoch,
            leader=copy.leader,
            joined=self._joined.is_set(),
            reachable=self._unreachable is None,
            nodes_alive=self.nodes_alive,
            position_s=log_seconds(copy.position),
            end_s=None if self.log_end is None else log_seconds(self.log_end),
            applied=self.applied,
            refused=self.refused,
            skipped=self.skipped,
            waiting=len(self._outbox),
            snapshots=self.snapshots,
            snapshot_bytes=self.snapshot_bytes,
            snapshot_write_s=self.snapshot_write_s,
        )

    @property
    def position(self) -> str:
        """The id of the last log record this node's copy includes."""
        return self._copy.position

    @property
    def caught_up(self) -> bool:
        """Every change this node asked for has been applied (here, so everywhere)."""
        return self._seq <= self._copy.applied.get(self.member, 0)

    # events' keys: the same on every node, so the history keeps each once ----------------
    def event_key(self, record: EventRecord) -> str:
        if self._entry is None:  # this node's own record, not a change's
            return f"{self.member}-{record.seq}"
        entry, made = self._entry
        self._entry = (entry, made + 1)
        return f"{entry}#{made}"

    # lifecycle -------------------------------------------------------------------------
    async def start(self, *, join_timeout_s: float = 10.0) -> None:
        """Join: read the newest snapshot and what follows (a node that finds no log
        becomes the leader and starts one), then follow the log."""
        self._service.share(self)
        loop = asyncio.get_running_loop()
        for run, name in (
            (self._follow, "read"),
            (self._send, "append"),
            (self._lead, "lead"),
            (self._beat, "heartbeat"),
        ):
            self._tasks.append(loop.create_task(run(), name=f"acd-cluster-{name}"))
        async with asyncio.timeout(join_timeout_s):
            await self._joined.wait()
        log.info("node %s joined the shared ACD at %s", self.member, self._last_id)

    async def close(self, *, leave: bool = True) -> None:
        """Stop following the log; ``leave`` gives up the lease and the heartbeat at once
        (False: as a node that died, whose keys expire)."""
        if self._closed:
            return
        self._closed = True  # the loops stop even if a client swallowed their cancellation
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=_RETRY_S * 5)
        self._tasks.clear()
        if leave:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._redis.eval(RENEW, 1, self._lease_key, self.member, 1)
                    await self._redis.delete(self._member_key(self.member))
        await self._redis.aclose()
        await self._reader.aclose()

    # reading the log -------------------------------------------------------------------
    async def _follow(self) -> None:
        while not self._closed:
            try:
                if not self._joined.is_set():
                    await self._join()
                    continue
                got: Any = await self._reader.xread(
                    {self._log_key: self._last_id}, count=1000, block=1000
                )
            except (RedisError, OSError) as error:
                if self._unreachable is None:
                    log.warning("shared ACD log unreachable: %s", error)
                self._unreachable = str(error) or type(error).__name__
                await asyncio.sleep(_RETRY_S)
                continue
            if self._unreachable is not None:
                log.info("shared ACD log reachable again")
                self._unreachable = None
            for _, entries in got or ():
                for n, (entry_id, fields) in enumerate(_entries(entries), 1):
                    self._read(entry_id, fields)
                    if n % _YIELD_EVERY == 0:  # a long batch lets the lease and calls run
                        await asyncio.sleep(0)
                if entries:
                    self._service.rearm()

    async def end(self) -> None:
        """Look at the log's end (the heartbeat's, for ``figures``)."""
        end = await self._redis.eval(_END, 1, self._log_key)
        self.log_end = end.decode() if isinstance(end, bytes) else None

    async def _join(self) -> None:
        snap = await self._redis.get(self._snap_key)
        if snap is None:
            await asyncio.sleep(_RETRY_S)  # no log yet: the leader's loop starts one
            return
        entries = _entries(await self._redis.xrange(self._log_key, snap, snap))
        if not entries:
            await asyncio.sleep(_RETRY_S)
            return
        entry_id, fields = entries[0]
        self._load(entry_id, fields[b"d"])
        self._joined.set()

    def _read(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        self._last_id = entry_id
        try:
            kind, member = fields[b"k"], fields[b"n"].decode()
            epoch = int(fields[b"e"])
            if kind == SNAPSHOT:  # one of this generation: this copy has it already
                if fields.get(b"g", b"").decode() != self._copy.generation:
                    self._snapshot_read(entry_id, fields[b"d"])
            elif kind == LEADER:
                said = self._codec.loads(fields[b"d"])  # signed: only a node says who leads
                if said == (member, epoch) and epoch >= self._copy.epoch:
                    self._copy.epoch, self._copy.leader = epoch, member
                    log.info("shared ACD leader: %s (epoch %d)", member, epoch)
            else:
                self._change(entry_id, member, int(fields[b"q"]), epoch, fields[b"d"])
        except TamperedRecord as error:
            self.refused += 1
            log.error("shared ACD log record %s refused: %s", entry_id, error)
        except (KeyError, ValueError, UnicodeDecodeError) as error:
            self.skipped += 1
            log.error("shared ACD log record %s skipped: %s", entry_id, error)
        self._copy.position = entry_id

    def _snapshot_read(self, entry_id: str, data: bytes) -> None:
        """A snapshot of another generation: Redis lost the log, this is the new start."""
        self._load(entry_id, data)
        self._resend()

    def _load(self, entry_id: str, data: bytes) -> None:
        copy = self._codec.loads(data)
        assert isinstance(copy, Copy)
        if copy.position == "0-0":
            copy.position = entry_id
        self._copy = copy
        self._last_id = copy.position
        self._since_snapshot = 0
        mine = copy.applied.get(self.member, 0)
        while self._mine and self._mine[0][0] <= mine:
            self._mine.popleft()
        self._service.adopt(copy.distributor)
        self._settle()
        log.info("shared ACD copy loaded: generation %s at %s", copy.generation, entry_id)

    def _settle(self) -> None:
        """Wake the ``settled`` callers whose change this copy now includes."""
        if not self._settling:  # nobody waits: every change of this node passes here
            return
        applied = self._copy.applied.get(self.member, 0)
        for entry in [e for e in self._settling if e[0] <= applied]:
            self._settling.remove(entry)
            if not entry[1].done():
                entry[1].set_result(None)

    def _resend(self) -> None:
        """Into a new generation: this node's changes its snapshot has not seen."""
        mine = self._copy.applied.get(self.member, 0)
        leader = [r for r in self._outbox if r[0] == LEADER]  # an announcement still out
        again = [(COMMAND, s, self._epoch, d) for s, d in self._mine if s > mine]
        self._outbox = deque(leader + again)
        self._wake.set()

    def _change(self, entry_id: str, member: str, seq: int, epoch: int, data: bytes) -> None:
        copy = self._copy
        if seq <= copy.applied.get(member, 0):
            return  # sent again: applied already
        command = self._codec.loads(data)  # TamperedRecord before anything is counted
        copy.applied[member] = seq
        self._since_snapshot += 1
        self.applied += 1
        at = int(entry_id.split("-", 1)[0]) / 1000
        if isinstance(command, Tick) and command.due is not None:  # not before it was due
            at = max(at, min(command.due, at + _TICK_SLACK_S))
        self._entry = (entry_id, 0)
        try:
            with self._clock.at(at):
                if isinstance(command, NodeLost):
                    if epoch == copy.epoch:  # the fence: only the leader in charge
                        self._lost(command.member, member)
                    return
                assert not isinstance(command, Copy)
                if isinstance(command, CallArrived):
                    self._arrived(command, member)
                    return
                if isinstance(command, Reconcile):
                    command = self._scoped(command, member)
                self._apply(command, mine=member == self.member)  # type: ignore[arg-type]
        finally:
            self._entry = None
            if member == self.member:
                self._settle()

    def _arrived(self, command: CallArrived, member: str) -> None:
        """A call or task handed in by ``member``: its own while the ACD holds it (its
        events, told while it is applied, see so); refused (an id already held: two nodes
        resuming one conversation), the one whose arrival was applied keeps it."""
        call_id = command.call.call_id
        owners = self._copy.owners
        before = owners.get(call_id)
        owners[call_id] = member
        if not self._apply(command, mine=member == self.member):
            if before is None:
                del owners[call_id]
            else:
                owners[call_id] = before

    def _apply(self, command: Command, *, mine: bool) -> bool:
        """Apply one change; False if the ACD refused it or it failed."""
        try:
            self._service.apply(command)
        except (RoutingError, AgentError, ValueError) as error:
            log.info("shared ACD change refused: %s: %s", type(command).__name__, error)
            if mine:
                self._service.refused(command, error)
            return False
        except Exception:  # the log's boundary: one bad change must not stop the node
            log.exception("shared ACD change failed: %s", type(command).__name__)
            return False
        return True

    def _lost(self, member: str, by: str) -> None:
        """``member`` is lost, as the leader ``by`` declared: its calls leave the ACD (their
        sessions went with it); its chats, e-mails and other digital tasks stay, place and
        agent kept, and ``by`` takes them over (their conversations are in the shared
        history; the customer reconnects to any node): every copy names the same new owner
        at the same point of the log, and the declaring node is alive by then."""
        copy = self._copy
        held: dict[str, str | None] = {}
        taken: list[str] = []
        for call_id, owner in list(copy.owners.items()):
            if owner != member:
                continue
            call = copy.distributor.call(call_id)
            if call is not None and call.channel not in VOICE_SEAT:
                copy.owners[call_id] = by
                taken.append(call_id)
            else:
                held[call_id] = copy.distributor.call_state(call_id)
        log.warning(
            "node %s lost: its %d calls leave the shared ACD, its %d tasks go to %s",
            member,
            len(held),
            len(taken),
            by,
        )
        # the waiting first, so no agent an offered one frees is offered another of them
        for call_id in sorted(held, key=lambda c: (_LEAVING_ORDER.get(held[c] or "", 3), c)):
            del copy.owners[call_id]
            if held[call_id] is not None:
                self._apply(CallerLeft(call_id, "node lost"), mine=False)

    def _scoped(self, command: Reconcile, member: str) -> Reconcile:
        """A node reconciles with its own Asterisk: what waits on other nodes stays."""
        copy = self._copy
        others = {c for c, owner in copy.owners.items() if owner != member}
        keep: set[str] = set()
        for call_id in others:
            call = copy.distributor.call(call_id)
            if call is not None and call.line is not None:
                keep.add(call.line)
        for agent_id in copy.distributor.agents:
            view = copy.distributor.book.view(agent_id)
            if view.call_id in others and view.channel is not None:
                keep.add(view.channel)
        return replace(command, live_channels=command.live_channels | keep)

    # appending -------------------------------------------------------------------------
    async def _send(self) -> None:
        held = False  # changes wait (said once, and again when they go)
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox and not self._closed:
                batch = [self._outbox[i] for i in range(min(_BATCH, len(self._outbox)))]
                args: list[Any] = []
                for kind, seq, epoch, data in batch:
                    args += [kind, self.member, seq, epoch, data]
                try:
                    ids = await self._redis.eval(_APPEND, 1, self._log_key, *args)
                except (RedisError, OSError) as error:
                    ids, why = None, str(error)
                else:
                    why = "no log: Redis lost it, the next leader starts one"
                if not ids:
                    if not held:
                        log.warning("shared ACD changes wait in this node's outbox: %s", why)
                        held = True
                    await asyncio.sleep(_RETRY_S)
                    continue
                if held:
                    log.info("shared ACD changes sent again (%d waiting)", len(self._outbox))
                    held = False
                for _ in batch:
                    self._outbox.popleft()


def _entries(raw: Any) -> list[tuple[str, dict[bytes, bytes]]]:
    """Stream entries as redis-py returns them (bytes ids and fields)."""
    return [(entry_id.decode(), fields) for entry_id, fields in raw]

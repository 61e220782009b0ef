"""`AsteriskEmulator`: a process-local fake Asterisk speaking real FastAGI and AMI.

Calls are placed with `place_call(Caller(...))`: the emulator runs the caller's channel
through its dialplan, connecting to the FastAGI server like Asterisk's AGI() does, while the
AMI server reports the call's events. See tests/fixtures/asterisk/README.md for the ground truth.
`ami_users` are manager.conf's users (name: secret); `ami_event_filters` gives a user its
`eventfilter=` lines, so a rig can receive exactly what the deployed manager.conf lets through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from telephony.emulator import events
from telephony.emulator.ami_actions import Actions
from telephony.emulator.ami_server import AmiServer
from telephony.emulator.calls import Call, configure
from telephony.emulator.channel import RING, Channel
from telephony.emulator.clock import Clock
from telephony.emulator.contexts import AGI_URL_VAR, HOTLINE, Contexts
from telephony.emulator.dialplan import Dialplan
from telephony.emulator.events import Pairs
from telephony.emulator.media import Prompts
from telephony.emulator.model import AgentPhone, Caller, Customer
from telephony.emulator.pbx import Pbx, PbxConfig
from telephony.emulator.phones import PhoneBook

log = logging.getLogger(__name__)


class AsteriskEmulator:
    def __init__(
        self,
        *,
        agi_host: str = "127.0.0.1",
        agi_port: int = 4573,
        ami_host: str = "127.0.0.1",
        ami_port: int = 0,
        ami_users: Mapping[str, str] | None = None,
        ami_event_filters: Mapping[str, Sequence[str]] | None = None,
        phones: Sequence[AgentPhone] = (),
        time_scale: float = 1.0,
        fallback_context: str = "hotline-fallback",
        queue_name: str = "hotline",
        queue_timeout_s: float = 60.0,
        sounds_dir: Path | None = None,
        prompt_lengths_s: Mapping[str, float] | None = None,
        unknown_prompt_s: float | None = 2.0,
        login_failure_delay_s: float = 1.0,
        restart_refuse_s: float = 0.43,
        shutdown_grace_s: float = 2.0,
        varset_events: bool = False,
        channel_tech: str = "SIP",
        customers: Sequence[Customer] = (),
        callback_context: str = "hotline-callback",
        trunk: str = "PJSIP/trunk",
        system_name: str = "",
    ) -> None:
        """``system_name``: asterisk.conf's ``systemname``, which prefixes every uniqueid
        (``name-1796...``), so several Asterisks' calls never share one."""
        self.clock = Clock(time_scale)
        config = PbxConfig(
            agi_host=agi_host,
            agi_port=agi_port,
            fallback_context=fallback_context,
            queue_name=queue_name,
            queue_timeout_s=queue_timeout_s,
            varset_events=varset_events,
            trunk=trunk,
            system_name=system_name,
        )
        book = PhoneBook(phones, lambda pairs: self.pbx.emit(pairs), int(self.clock.epoch()))
        prompts = Prompts(sounds_dir, prompt_lengths_s, unknown_prompt_s)
        self.pbx = Pbx(self.clock, book, config, prompts)
        for customer in customers:
            self.set_customer(customer)
        self.contexts = Contexts(
            fallback_context, queue_name, queue_timeout_s, callback_context, trunk
        )
        self.dialplan = Dialplan(self.pbx, self.contexts, self._on_command)
        self.ami = AmiServer(
            ami_host,
            ami_port,
            ami_users if ami_users is not None else {"hotline": "secret"},
            event_filters=ami_event_filters,
            login_failure_delay_s=login_failure_delay_s,
            dispatch=lambda session, msg: self._actions.dispatch(session, msg),
            uptime=self.pbx.uptime_s,
        )
        self._actions = Actions(self.pbx, self.contexts, self.ami, self._run_channel)
        self._tech = channel_tech
        self._restart_refuse_s = restart_refuse_s
        self._grace_s = shutdown_grace_s
        self._calls: dict[str, Call] = {}
        self._shutting_down = False
        self._unsubscribe: Callable[[], None] | None = None
        self.calls: list[Call] = []

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def ami_port(self) -> int:
        return self.ami.port

    async def start(self) -> None:
        self.pbx.reset_counters()
        self._unsubscribe = self.pbx.subscribe(self.ami.broadcast)
        await self.ami.start()

    async def stop(self) -> None:
        await self._shutdown(restart=False)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def restart(self) -> None:
        """Shutdown (event, calls hung up, AMI closed), refuse connects, boot on the same port."""
        await self._shutdown(restart=True)
        await asyncio.sleep(self._restart_refuse_s)
        self.pbx.reset_counters()
        self.pbx.book.reset()
        self._shutting_down = False
        await self.ami.start()

    async def _shutdown(self, *, restart: bool) -> None:
        self._shutting_down = True
        running = [t for t in self.pbx.background if not t.done()]
        for ch in list(self.pbx.channels.values()):
            if not ch.hung_up:
                self.pbx.emit(events.hangup_request(ch, 4, soft=True))
                ch.hang_up(by="shutdown")
        if running:
            _, pending = await asyncio.wait(running, timeout=self._grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self.pbx.emit(events.shutdown(restart=restart))
        await self.ami.stop()
        for call in list(self._calls.values()):
            call.finish()
        self._calls.clear()

    async def __aenter__(self) -> AsteriskEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- phones, events --------------------------------------------------------------------
    def set_phone(self, phone: AgentPhone) -> None:
        """Adds a phone or changes an existing one's behaviour (matched by endpoint)."""
        self.pbx.book.set_phone(phone)

    def unregister_phone(self, endpoint: str) -> bool:
        """The phone at ``endpoint`` unregisters (ContactStatus Removed; Dial to it then
        finds no phone); False when there was none."""
        return self.pbx.book.unregister(endpoint)

    def set_customer(self, customer: Customer) -> None:
        """Adds a customer reachable over the trunk, or changes one (matched by number)."""
        self.pbx.customers[customer.number] = customer

    def phone_hold(self, endpoint: str, on: bool = True) -> bool:
        """The agent's phone at ``endpoint`` ("SIP/agent1001") holds (or resumes) the call
        it is on, as a real phone's re-INVITE does: AMI Hold/Unhold on its channel. False
        when that phone has no channel up."""
        prefix = endpoint.lower() + "-"
        for ch in list(self.pbx.channels.values()):
            if ch.name.lower().startswith(prefix) and ch.up and not ch.hung_up:
                ch.hold(on)
                return True
        return False

    def subscribe(self, listener: Callable[[Pairs], None]) -> Callable[[], None]:
        """Every AMI event as (key, value) pairs, in process (returns the unsubscribe)."""
        return self.pbx.subscribe(listener)

    # -- calls -----------------------------------------------------------------------------
    async def place_call(
        self, caller: Caller, *, exten: str = "100", script: str = "hotline", context: str = HOTLINE
    ) -> Call:
        """A call from `caller` to `exten`; the AGI() step connects to agi://host:port/script."""
        if self._shutting_down:
            raise RuntimeError("the emulated Asterisk is shutting down")
        pbx = self.pbx
        ch = pbx.new_channel(
            self._tech,
            caller.peer,
            context=context,
            exten=exten,
            caller_num=caller.number,
            caller_name=caller.name,
            language=caller.language,
        )
        ch.dnid = exten
        config = pbx.config
        ch.variables[AGI_URL_VAR] = f"agi://{config.agi_host}:{config.agi_port}/{script}"
        configure(ch, caller)
        call = Call(pbx, ch, caller)
        self._calls[ch.name] = call
        self.calls.append(call)
        pbx.processed_calls += 1
        ch.set_state(RING)
        call.start_script()
        pbx.spawn(self._run_call(call, ch))
        return call

    async def _run_call(self, call: Call, ch: Channel) -> None:
        try:
            await self.dialplan.run(ch, shutdown=lambda: self._shutting_down)
        finally:
            self._calls.pop(ch.name, None)
            call.finish()

    async def _run_channel(self, ch: Channel) -> None:
        await self.dialplan.run(ch, shutdown=lambda: self._shutting_down)

    def _on_command(self, ch: Channel, index: int) -> None:
        call = self._calls.get(ch.name)
        if call is not None:
            call.on_command(index)

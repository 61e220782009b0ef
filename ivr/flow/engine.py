"""The flow engine: runs a ``Flow`` on each call's AGI session (the FastAGI handler).

A call keeps the ``Flow`` object it started with; ``swap`` changes it for the calls that
start later, so a reload never changes a call mid-way. Each step's outcome goes into the
call's trace; whatever way the call ends (queued, hung up, caller gone, fault) the engine
hands a ``CallReport`` with the attributes collected so far to ``on_report`` (history,
screen-pop). A step that fails is logged once and the call goes to the dialplan fallback.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from ivr.callers import CallerDirectory
from ivr.flow.calendar import Clock, system_clock
from ivr.flow.context import CHANNEL_LANGUAGE, CallContext, Services, Transition
from ivr.flow.flow import Flow
from ivr.flow.handoff import AcdGateway, CallbackRequests
from ivr.flow.nodes import (
    AskStep,
    BranchStep,
    CallbackStep,
    CatalogStep,
    CollectStep,
    GotoStep,
    HangupStep,
    LookupStep,
    MenuStep,
    PlayStep,
    QueueStep,
    SetStep,
    Step,
    VoicemailStep,
)
from ivr.flow.ports import Classifier, Recogniser, TalkDetection
from ivr.flow.state import CallReport, CallState, Ending, TraceEntry, WellKnown
from ivr.flow.steps_exit import run_callback, run_queue, run_voicemail
from ivr.flow.steps_input import run_collect, run_menu
from ivr.flow.steps_logic import run_branch, run_goto, run_lookup, run_set
from ivr.flow.steps_media import run_catalog, run_hangup, run_play
from ivr.flow.steps_speech import run_ask
from telephony.agi_server import Fallback
from telephony.agi_session import AgiCommandError, AgiSession, CallerHangup

log = logging.getLogger("ivr.flow")

__all__ = ["FlowEngine", "ReportSink", "run_step"]

ReportSink = Callable[[CallReport], Awaitable[None] | None]


async def run_step(step: Step, ctx: CallContext) -> Transition:
    match step:
        case PlayStep():
            return await run_play(step, ctx)
        case MenuStep():
            return await run_menu(step, ctx)
        case CollectStep():
            return await run_collect(step, ctx)
        case AskStep():
            return await run_ask(step, ctx)
        case CatalogStep():
            return await run_catalog(step, ctx)
        case SetStep():
            return await run_set(step, ctx)
        case LookupStep():
            return await run_lookup(step, ctx)
        case BranchStep():
            return await run_branch(step, ctx)
        case GotoStep():
            return await run_goto(step, ctx)
        case QueueStep():
            return await run_queue(step, ctx)
        case CallbackStep():
            return await run_callback(step, ctx)
        case VoicemailStep():
            return await run_voicemail(step, ctx)
        case HangupStep():
            return await run_hangup(step, ctx)


class FlowEngine:
    """The AGI handler: ``FastAgiServer(routes={"hotline": engine})``.

    ``on_report`` gets every call's report when its flow ends (it may be async; it must not
    raise: the call is over, there is nowhere left to send it).
    """

    def __init__(
        self,
        flow: Flow,
        *,
        callers: CallerDirectory,
        acd: AcdGateway,
        callbacks: CallbackRequests,
        fallback: Fallback,
        recogniser: Recogniser | None = None,
        classifier: Classifier | None = None,
        talk: TalkDetection | None = None,
        clock: Clock = system_clock,
        on_report: ReportSink | None = None,
    ) -> None:
        self._flow = flow
        self._services = Services(
            callers=callers,
            acd=acd,
            callbacks=callbacks,
            fallback=fallback,
            clock=clock,
            recogniser=recogniser,
            classifier=classifier,
            talk=talk,
        )
        self._on_report = on_report

    @property
    def flow(self) -> Flow:
        return self._flow

    @property
    def classifier(self) -> Classifier | None:
        return self._services.classifier

    def swap(self, flow: Flow, *, classifier: Classifier | None = None) -> None:
        """Calls that start from now on run ``flow`` (and ``classifier``, when given: one
        retrained from a new intents file); calls in progress keep theirs."""
        if flow.version != self._flow.version:
            log.info("IVR flow %s replaces %s for new calls", flow.version, self._flow.version)
        self._flow = flow
        if classifier is not None:
            self._services = replace(self._services, classifier=classifier)

    async def __call__(self, session: AgiSession) -> None:
        report = await _CallRun(session, self._flow, self._services).run()
        if self._on_report is not None:
            pending = self._on_report(report)
            if pending is not None:
                await pending


class _CallRun:
    def __init__(self, session: AgiSession, flow: Flow, services: Services) -> None:
        language = flow.settings.language
        state = CallState(
            attributes={WellKnown.LANGUAGE: language, WellKnown.LANGUAGE_SOURCE: "default"}
        )
        self.ctx = CallContext(session, flow, services, state)
        self.started_at = services.clock()
        self.t0 = time.monotonic()

    async def run(self) -> CallReport:
        ctx = self.ctx
        env = ctx.session.env
        ending: Ending
        try:
            await ctx.session.answer()
            if env.language != ctx.language:
                await ctx.session.set_variable(CHANNEL_LANGUAGE, ctx.language)
            ending = await self._walk()
        except CallerHangup:
            cut = await ctx.session.cut_by_asterisk()
            log.info(
                "call %s: %s in node %s",
                ctx.call_id,
                "Asterisk ended the call" if cut else "caller hung up",
                ctx.state.node,
            )
            ending = "cut" if cut else "caller_hangup"
        except Exception:  # the call's boundary: one log line, then the fallback queue
            log.exception(
                "call %s: node %s failed (flow %s); sending the call to the fallback",
                ctx.call_id,
                ctx.state.node,
                ctx.flow.version,
            )
            ending = "error"
            await self._rescue()
        return CallReport(
            call_id=ctx.call_id,
            channel=env.channel,
            caller_number=ctx.caller_number,
            flow_version=ctx.flow.version,
            started_at=self.started_at,
            ending=ending,
            last_node=ctx.state.node,
            attributes=dict(ctx.state.attributes),
            trace=tuple(ctx.state.trace),
        )

    async def _walk(self) -> Ending:
        ctx = self.ctx
        node: str | None = ctx.flow.entry
        limit = ctx.flow.settings.max_steps
        for _ in range(limit):
            if node is None:
                break
            ctx.state.node = node
            step = ctx.flow.node(node)
            started = time.monotonic()
            try:
                transition = await run_step(step, ctx)
            except CallerHangup:
                self._record(node, step, started, "caller hung up")
                raise
            except Exception as exc:
                self._record(node, step, started, f"failed: {type(exc).__name__}")
                raise
            self._record(node, step, started, transition.result)
            if transition.ending is not None:
                if transition.ending == "fallback":
                    await ctx.to_fallback()
                return transition.ending
            node = transition.next
        else:
            log.error(
                "call %s: %d steps without reaching an end (flow %s); sending it to the fallback",
                ctx.call_id,
                limit,
                ctx.flow.version,
            )
        await ctx.to_fallback()
        return "fallback"

    def _record(self, node: str, step: Step, started: float, result: str) -> None:
        ctx = self.ctx
        notes = ctx.state.notes
        if notes:
            result = f"{result} [{'; '.join(notes)}]"
            notes.clear()
        now = time.monotonic()
        ctx.state.trace.append(
            TraceEntry(
                node=node,
                step=step.type,
                input=", ".join(ctx.inputs) or None,
                result=result,
                at_s=started - self.t0,
                duration_ms=(now - started) * 1000,
            )
        )
        ctx.inputs.clear()

    async def _rescue(self) -> None:
        """After a fault: the fallback, if the caller and the connection are still there."""
        with contextlib.suppress(CallerHangup, AgiCommandError):
            await self.ctx.to_fallback()

"""The composition root: one ``Config`` in, the running service out.

``Hotline`` builds every long-lived object by constructor injection (no globals) and owns
their lifecycles: the FastAGI server Asterisk sends calls to, the AMI client that watches and
acts on Asterisk, and the web server. ``serve`` adds the process concerns: signals (SIGINT
and SIGTERM stop cleanly, SIGHUP reloads the config) and the exit status.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from acd.build import build_acd
from acd.events import EventRecord, InMemoryEventSink
from center.acd_cluster import LogClock
from center.agent_feed import AmiAgentFeed
from center.before_service import before_service
from center.call_controller import CallController
from center.callbacks import CallbackDialler
from center.conversations import ConversationDesk
from center.email_channel import EmailChannel
from center.follow_ups import FollowUpBook, FollowUps
from center.gateway import LiveAcd
from center.offer_loop import same_phone
from center.pause_counts import restore_pause_counts
from center.persistence import HistoryEventSink, HistoryInteractions
from center.recording import CallRecorder, RecordingRetention
from center.service import AcdService
from center.task_callbacks import TaskCallbacks
from center.transcription import PostCallTranscriber
from center.voicemail_tasks import VoicemailRecorder, VoicemailTasks
from center.waiting import recorded_or_core
from center.webhook_feed import WebhookFeed
from channels.email.sender import ReplySender
from channels.email.settings import relay_settings, sender_identity
from channels.webhooks.delivery import WebhookDispatcher
from channels.webhooks.settings import subscriptions
from history import offload
from history.attachments import AttachmentStore
from history.callbacks import CallbackStore
from history.conversations import Conversations
from history.recordings import RecordingFiles
from history.repository import HistoryRepository
from history.spool import Spool
from history.store import create_engine
from history.webhooks import SqlDeliveryStore
from history.writer import HistoryWriter
from hotline.cluster_node import ClusterNode
from hotline.config import Config
from hotline.history_startup import HistoryStartup
from hotline.live_config import LiveConfig
from hotline.reports.daily import DailyReports
from hotline.service_settings import (
    MODULE_CHANNELS,
    agi_limits,
    conversation_routing,
    fallback,
    message_limits,
    prepare_database_dir,
    voicemail_dirs,
)
from hotline.web.agent.desk_panel import DeskPanel
from hotline.web.chat.hub import CHANNEL as CHAT_CHANNEL
from hotline.web.chat.hub import ChatHub
from hotline.web.server import WebServer
from hotline.web.typing_relay import TypingRelay
from hotline.web_assembly import assemble_web
from hotline.web_config import (
    ami_tls,
    web_limits,
    web_tls,
)
from hotline.workers import WorkPool
from ivr.callers import HistoryDirectory
from ivr.flow.engine import FlowEngine
from ivr.flow.flow import build_flow
from ivr.flow.ports import IntentResult
from ivr.intent import build_classifier
from ivr.intent.classifier import IntentMatch
from ivr.speech.service import build_speech_service
from telephony.agi_server import FastAgiServer
from telephony.ami_client import AmiClient
from telephony.channels import ChannelTracker
from telephony.talk_detection import TalkEvents

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The FastAGI script name the dialplan calls: AGI(agi://host:port/hotline).
HOTLINE_SCRIPT = "hotline"


class Hotline(LiveConfig):
    """The running service. ``start`` then ``close``; ``reload`` applies a new config
    (``hotline.live_config``)."""

    def __init__(
        self,
        config: Config,
        *,
        config_dir: Path | None = None,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> None:
        self._built_from = config
        self._config = config
        self._config_dir = config_dir
        self._environ = environ
        self._overrides = dict(overrides or {})
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Changed sections the last reload could not apply live (they need a restart).
        self.restart_needed: tuple[str, ...] = ()
        prepare_database_dir(config)
        self.store = create_engine(config.database.url)
        self.history = HistoryRepository(
            self.store,
            attachments=AttachmentStore(config.database.attachments),
            recording_files=RecordingFiles(config.recording.directory),
        )
        self.conversations = Conversations(self.history, limits=message_limits(config))
        self.history_writer = HistoryWriter(self.history, Spool(config.database.spool))
        #: Config parsing (SIGHUP, the admin pages' checks) in a bounded pool of its own.
        self.config_pool = WorkPool("config-parse", workers=1, max_waiting=8)
        self.speech = build_speech_service(config.speech)
        # The ACD: every state change goes to the live view and, through the spooling
        # writer, to the history's event log; every queued call is one interaction.
        self.acd_events = InMemoryEventSink(keep=False)
        # Several nodes share one ACD when cluster.redis_url is set: its changes go through
        # a log in Redis, applied by every node's copy at the log's time (center.acd_cluster).
        acd_clock = time.monotonic if config.cluster.redis_url is None else LogClock()
        self.acd_log = HistoryEventSink(self.history_writer, inner=self.acd_events, clock=acd_clock)
        self.acd = AcdService(
            build_acd(config.priority, config.queues, config.agents, config.skills),
            sink=self.acd_log,
            clock=acd_clock,
        )
        # Its copy, agents' phones on peer Asterisks, conversations across nodes.
        self.node: ClusterNode | None = None
        if isinstance(acd_clock, LogClock):
            self.node = ClusterNode.joining(config, self.acd, acd_clock, self.acd_log, environ)
        route = same_phone if self.node is None else self.node.route
        self.interactions = HistoryInteractions(
            self.history_writer, identities=self.history.identities
        )
        # talk, hold, wrap-up times: of this node's calls (a shared ACD tells every node of
        # every call; the node that holds a call keeps its interaction)
        self.acd_events.subscribe(self._observe_interactions)
        self.history_startup = HistoryStartup(
            self.store,
            self.history,
            self.history_writer,
            source=self.interactions.source,
            display_url=config.database.display_url,
            first=lambda: self._seal_totp_secrets(),
        )
        self.ami = AmiClient(
            host=config.ami.host,
            port=config.ami.port,
            username=config.ami.username,
            secret=config.ami.secret.get_secret_value(),
            events=config.ami.events,
            reconnect_min_s=config.ami.reconnect_min_s,
            reconnect_max_s=config.ami.reconnect_max_s,
            action_timeout_s=config.ami.action_timeout_s,
            ssl=ami_tls(config),
            server_hostname=config.ami.tls.server_name,
        )
        directory = HistoryDirectory(self.history)
        # Chats, e-mails and messaging conversations: kept, then routed as tasks of the
        # same ACD (their intent by the IVR's classifier, whichever it is after a reload).
        self.desk = ConversationDesk(
            self.conversations,
            self.acd,
            conversation_routing(config),
            directory=directory,
            classify=self._classify,
            updates=self.history_writer.update_interaction,
        )
        # Voicemails (the IVR's step, a queue's overflow) and callbacks the dialler gives up
        # on are tasks of the desk too: a recording to listen to, a customer to follow up.
        self.voicemails = VoicemailTasks(
            self.desk,
            self.conversations,
            directories=lambda: voicemail_dirs(self._config),
            recording_moved=self.interactions.recording_moved,
        )
        self.follow_ups = FollowUps(self.desk, self.conversations)
        calls = VoicemailRecorder(self.interactions, self.voicemails)
        # Booked callbacks: kept in the history store, dialled back through the ACD (agent
        # first, by AMI Originate); pending ones are reloaded when the dialler starts.
        self.callbacks = CallbackDialler(
            self.acd,
            FollowUpBook(
                CallbackStore(self.store, identities=self.history.identities), self.follow_ups
            ),
            self.ami,
            config.waiting,
            interactions=self.interactions,
            phone_route=route,
        )
        self.task_callbacks = TaskCallbacks(
            self.desk, self.conversations, self.callbacks, language=config.ivr.language
        )
        self.ivr: FlowEngine
        # Agents' call control (hang up, blind transfer, mute; hold from their phones):
        # AMI actions on the agent's leg; a transfer is carried out by the caller's session.
        # A consult (warm transfer, conference) is an attended transfer of the agent's leg;
        # a completed one is ended by the caller's session (center.consult).
        self.call_control = CallController(
            self.acd,
            self.ami,
            channels=lambda: [c.name for c in self.channels.table],
            consult_enabled=lambda: self._config.waiting.consult_enabled,
            route=route,  # a colleague's phone on a peer: consulted through the trunk
        )
        self.acd_events.subscribe(self.call_control.observe)
        # Call recording with consent: asked before queueing, MixMonitor on the caller's
        # channel, paused by agents over AMI, purged after its retention.
        self.recorder = CallRecorder(
            config.recording,
            self.acd,
            writer=self.history_writer,
            files=self.history.recording_files,
            resolve_prompt=recorded_or_core(lambda: self.ivr.flow.prompts),
        )
        self.acd_events.subscribe(self.recorder.observe)  # the agent's answer
        # Post-call transcription of recorded calls, in the speech pool behind callers.
        self.transcriber: PostCallTranscriber | None = None
        if config.transcription.enabled:
            self.transcriber = PostCallTranscriber(
                config.transcription.model_copy(
                    update={"chunk_s": min(config.transcription.chunk_s, config.speech.max_audio_s)}
                ),
                self.speech,
                self.history,
                self.recorder.files,
                default_language=next(iter(config.speech.languages), "en"),
            )
            self.recorder.on_recorded = self.transcriber.recorded
        self.acd_gateway = LiveAcd(
            self.acd,
            config.waiting,
            fallback=fallback(config),
            callbacks=self.callbacks,
            interactions=calls,
            resolve_prompt=recorded_or_core(lambda: self.ivr.flow.prompts),
            transfers=self.call_control.transfers,
            consults=self.call_control.consults,
            recording=self.recorder,
            phone_route=route,
        )
        self.ivr = FlowEngine(
            build_flow(config.ivr),
            callers=directory,
            acd=self.acd_gateway,
            callbacks=self.callbacks,
            fallback=fallback(config),
            recogniser=self.speech,
            classifier=build_classifier(config.intents),
            talk=TalkEvents(self.ami),  # spoken barge-in
            on_report=calls.ivr_ended,
        )
        # Messaging modules hear of tasks and messages by webhook (when any is configured).
        self.webhooks: WebhookDispatcher | None = None
        self._webhook_feed: WebhookFeed | None = None
        if config.webhooks:
            hooks = subscriptions(config.webhooks, os.environ if environ is None else environ)
            self.webhooks = WebhookDispatcher(SqlDeliveryStore(self.store), hooks)
            self._webhook_feed = WebhookFeed(self.webhooks.publish)
            self.desk.subscribe(self._webhook_feed)
            for channel in MODULE_CHANNELS:  # a WhatsApp or SMS module sends agents' replies
                self.desk.hand_to_module(channel)
        # E-mail (when hotline.yaml enables it): customers' mail received by an SMTP server
        # into the desk, agents' replies sent through the relay (the desk's email outlet).
        self.email: EmailChannel | None = None
        if config.email.enabled:
            self.email = EmailChannel(config.email, self.desk, self.conversations, environ=environ)
        # The web chat: visitors' pages on the desk (agents' replies come back through its
        # outlet); the agent page's panel shows every channel's conversations.
        typing = TypingRelay()
        self.chat = ChatHub(self.desk, self.conversations, self.acd, config.chat, typing=typing)
        self.desk.register_outlet(CHAT_CHANNEL, self.chat.deliver)
        self.desk_panel = DeskPanel(self.desk, self.acd, self.conversations, typing=typing)
        # Several nodes: a conversation's customer and agent may be connected to two of them.
        if self.node is not None:
            self.node.carry(self.desk, typing, self.chat)
        self.agi = FastAgiServer(
            host=config.fastagi.host,
            port=config.fastagi.port,
            routes={
                HOTLINE_SCRIPT: before_service(
                    self.interactions, self.interactions.calls(self.recorder.calls(self.ivr))
                )
            },
            allowed_hosts=config.fastagi.allowed_hosts,
            fallback=fallback(config),
            limits=agi_limits(config),
        )
        self.channels = ChannelTracker(self.ami)
        self.acd.watch(self.channels)  # after each AMI login, vanished calls are cleared
        self.acd_feed = AmiAgentFeed(
            self.acd, elsewhere=None if self.node is None else self.node.phones
        )
        self.acd_feed.attach(self.ami)
        if self.node is not None:
            self.node.attach(self.ami)
        self.call_control.attach(self.ami)
        self.recorder.attach(self.ami)
        self.agi_listening = False
        web = assemble_web(
            self,
            readiness={
                "fastagi": self._agi_ready,
                "ami": self._ami_ready,
                "history": self.history_startup.problem,
                **({} if self.node is None else {"shared_acd": self.node.cluster.problem}),
            },
            config_dir=config_dir,
            environ=environ,
            overrides=self._overrides,
        )
        self.audit, self.web_auth = web.audit, web.auth
        self.supervisor_hub, self.reports = web.hub, web.reports
        #: The daily report by e-mail (``reports.daily``), through the e-mail relay.
        self.daily_reports: DailyReports | None = None
        if config.reports.daily.enabled:
            self.daily_reports = DailyReports(
                self.reports,
                ReplySender(
                    relay_settings(config.email),
                    sender_identity(config.email),
                    environ=os.environ if environ is None else environ,
                ),
                config.reports.daily,
            )
        self.web = WebServer(
            web.app,
            host=config.web.host,
            port=config.web.port,
            limits=web_limits(config),
            ssl_context=web_tls(config),
            hsts_max_age_s=config.web.tls.hsts_max_age_s,
        )

    @property
    def config(self) -> Config:
        return self._config

    @property
    def closing_interrupted(self) -> asyncio.Task[None] | None:
        """Closing the calls a stopped run left open, once the store answered."""
        return self.history_startup.closing_interrupted

    async def start(self) -> None:
        """Listen for calls and HTTP, and begin connecting to AMI (in the background).

        A history store that is down does not stop the service: calls are served, writes
        are spooled, and the schema is brought up to date as soon as the store answers.
        """
        if not self._config.ami.secret.get_secret_value():
            log.warning("ami.secret is empty: set HOTLINE_AMI_SECRET (AMI login will fail)")
        started = False
        try:
            await self.history_startup.start()
            # Models load in the background: until they are ready, speech turns use DTMF.
            self._spawn(self.speech.start(), name="speech-models")
            await self.supervisor_hub.start()  # before the ACD: it sees every record
            if self.node is not None:  # this node's copy of the shared ACD, first
                await self.node.start_log()
            await self.acd.start(login_all=self._config.waiting.login_all_agents_at_start)
            await self.agi.start()
            self.agi_listening = True
            if self.node is not None:
                self.node.start_phones()
            await self.ami.start()
            await self.callbacks.start()
            # work on the store, once its schema is up to date
            self._after_schema(self._resume_conversations, name="conversations-resume")
            self._after_schema(self._restore_pause_counts, name="pause-counts")
            retention = RecordingRetention(self.history)  # purged at once, then daily
            self._after_schema(retention.run, name="recordings-retention")
            if self.transcriber is not None:  # its scan reads the store
                self._after_schema(self.transcriber.run, name="post-call-transcription")
            if self.webhooks is not None:  # delivering resumes the outbox
                self._after_schema(self.webhooks.start, name="webhooks-start")
            if self.email is not None:
                await self.email.start()
            if self.daily_reports is not None:
                self._spawn(self.daily_reports.run(), name="daily-report")
            await self.desk_panel.start()
            await self.chat.start()
            await self.web.start()
            started = True
        finally:
            if not started:
                await self.close()

    async def close(self) -> None:
        """Stop taking new work, end calls cleanly (to the fallback), disconnect."""
        await self.chat.close()  # first: visitors' pages closing now have not left the chat
        await self.web.close()
        await self.desk_panel.close()
        await self.supervisor_hub.close()
        self.agi_listening = False
        await self.agi.close()
        await self.ami.close()
        self.channels.close()
        self.acd_feed.close()
        self.call_control.close()
        await self.callbacks.close()
        if self.email is not None:  # mail being stored and replies being sent finish first
            await self.email.close()
        await self.voicemails.intake.close()  # voicemails and follow-ups being stored too
        await self.follow_ups.intake.close()
        await self.desk.stop()
        if self._webhook_feed is not None and self.webhooks is not None:
            await self._webhook_feed.drain()
            await self.webhooks.close()
        await self.acd.close()
        if self.node is not None:
            await self.node.close()
        await self.acd_log.close()
        await self.interactions.close()
        await self.recorder.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.history_startup.close()
        await self.speech.close()
        await self.history_writer.close()
        await offload.close(self.store)
        await self.store.dispose()
        self.config_pool.close()
        self.web_auth.users.hashing.close()

    def _after_schema(self, work: Callable[[], Awaitable[object]], *, name: str) -> None:
        """``work`` in the background once the history store's schema is up to date."""

        async def run() -> None:
            await self.history_startup.schema_ready.wait()
            await work()

        self._spawn(run(), name=name)

    async def _resume_conversations(self) -> None:
        """Conversations a stopped run had queued or given to an agent wait again."""
        try:
            await self.desk.resume()
        except (SQLAlchemyError, OSError) as error:
            log.error("conversations left waiting by the last run not resumed: %s", error)

    async def _restore_pause_counts(self) -> None:
        """Today's pauses counted by earlier runs: agents' daily limits hold across a
        restart."""
        try:
            folded = await restore_pause_counts(
                self.store,
                self.acd.agent_day,
                self.acd.today(),
                self.acd_log.run,
                spooling=lambda: self.history_writer.spooling,
            )
        except (SQLAlchemyError, OSError) as error:
            log.error("today's pause counts of earlier runs not read back: %s", error)
            return
        if folded:
            log.info("%d pauses agents took earlier today read back (their daily limits)", folded)

    def _classify(self, text: str, language: str) -> IntentResult:
        classifier = self.ivr.classifier
        if classifier is None:
            return IntentMatch("unknown", 0.0, "general", 2, False)
        return classifier.classify(text, language)

    async def _seal_totp_secrets(self) -> None:
        """TOTP secrets an older version kept in clear, or a previous key sealed: sealed
        with the current key (``TwoFactorStore.seal_stored_secrets``), as soon as the schema
        is up (``HistoryStartup``'s first work)."""
        try:
            await self.web_auth.users.two_factor.seal_stored_secrets()
        except (OSError, SQLAlchemyError) as exc:
            log.warning("two-factor secrets not sealed yet (next start): %s", exc)

    def _observe_interactions(self, record: EventRecord) -> None:
        call_id = getattr(record.event, "call_id", None)
        if self.node is None or (isinstance(call_id, str) and self.node.owns(call_id)):
            self.interactions.observe(record)

    def _agi_ready(self) -> str | None:
        return None if self.agi_listening else "FastAGI server is not listening"

    def _ami_ready(self) -> str | None:
        if self.ami.connected:
            return None
        ami = self._built_from.ami
        reason = f"not connected to Asterisk manager at {ami.host}:{ami.port}"
        return f"{reason}: {self.ami.last_error}" if self.ami.last_error else reason

    def request_reload(self) -> asyncio.Task[bool]:
        """Reload in the background (from a signal handler); errors are logged there."""
        return self._spawn(self.reload(), name="config-reload")

    def _spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

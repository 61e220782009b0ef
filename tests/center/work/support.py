"""The conversation desk with its work channels on the test's store (SQLite or PostgreSQL):
voicemails, follow-ups of failed callbacks, and callbacks booked from them, without
telephony. The ACD has a billing agent and a technician who hold one voicemail and one
follow-up at a time, beside a chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from acd.build import build_acd
from acd.events import InMemoryEventSink
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from center.conversations import ConversationDesk
from center.desk_events import DeskEvent
from center.follow_ups import FollowUps
from center.service import AcdService
from center.task_callbacks import TaskCallbacks
from center.voicemail_tasks import VoicemailTasks
from center.work_intake import WorkIntake
from history.attachments import AttachmentStore
from history.conversations import Conversations, MessageLimits
from history.records import Interaction
from history.repository import HistoryRepository
from ivr.callers import HistoryDirectory
from ivr.flow.handoff import InMemoryCallbacks
from ivr.intent.classifier import IntentMatch
from tests.center.test_conversations import QUEUES, ROUTING
from tests.history.conftest import Target

BILLING_AGENT, TECHNICIAN = "cashier", "tech"


def classify(text: str, language: str) -> IntentMatch:
    """The words of any message are a technical fault (the support queue): a task routed
    elsewhere was routed by what it kept, not by its words."""
    return IntentMatch("technical_fault", 0.8, "technical_fault", 3, True)


@dataclass
class Rig:
    desk: ConversationDesk
    acd: AcdService
    store: Conversations
    voicemails: VoicemailTasks
    follow_ups: FollowUps
    callbacks: TaskCallbacks
    dialler: InMemoryCallbacks
    voicemail_dir: Path
    #: (call id, new recording reference) as the call's interaction was told
    moved: list[tuple[str, str | None]] = field(default_factory=list)
    events: list[DeskEvent] = field(default_factory=list)

    @property
    def repository(self) -> HistoryRepository:
        return self.store.repository

    async def settle(self) -> None:
        await self.voicemails.intake.settle()
        await self.follow_ups.intake.settle()
        await self.desk.flush()

    async def conversation(self, external_id: str) -> Interaction:
        found = await self.store.conversation_of_external_id(external_id)
        assert found is not None, f"no conversation holds {external_id}"
        return found

    def queue_of(self, conversation_id: int) -> str | None:
        task_id = self.desk.task_of(conversation_id)
        task = None if task_id is None else self.acd.task(task_id)
        return None if task is None else task.queue


def build_service() -> AcdService:
    setup = build_acd(
        PriorityConfig.model_validate({}),
        QueuesConfig.model_validate({"queues": QUEUES}),
        AgentsConfig.model_validate(
            {
                "policy": {"wrap_up_s": 0, "task_wrap_up_s": 0},
                "capacity": {"digital": {"chat": 1, "voicemail": 1, "follow_up": 1}},
                "agents": [
                    {"id": TECHNICIAN, "skills": {"internet": 2}},
                    {"id": BILLING_AGENT, "skills": {"billing": 2}},
                ],
            }
        ),
    )
    return AcdService(setup, sink=InMemoryEventSink())


@asynccontextmanager
async def work_rig(
    target: Target, tmp_path: Path, *, message_limits: MessageLimits | None = None
) -> AsyncIterator[Rig]:
    """The desk and its work channels; stopping it and opening another on the same store
    and files is a restart."""
    engine = target.engine()
    repository = HistoryRepository(engine, attachments=AttachmentStore(tmp_path / "files"))
    store = Conversations(repository, limits=message_limits)
    acd = build_service()
    await acd.start()
    desk = ConversationDesk(
        store, acd, ROUTING, directory=HistoryDirectory(repository), classify=classify
    )
    voicemail_dir = tmp_path / "voicemail"
    voicemail_dir.mkdir(exist_ok=True)
    moved: list[tuple[str, str | None]] = []
    intake = WorkIntake(store, retries=3, first_pause_s=0.01)
    voicemails = VoicemailTasks(
        desk,
        store,
        directories=lambda: [str(voicemail_dir)],
        intake=intake,
        recording_moved=lambda call_id, ref: moved.append((call_id, ref)),
    )
    follow_ups = FollowUps(desk, store, intake=WorkIntake(store, retries=3, first_pause_s=0.01))
    dialler = InMemoryCallbacks()
    rig = Rig(
        desk,
        acd,
        store,
        voicemails,
        follow_ups,
        TaskCallbacks(desk, store, dialler),
        dialler,
        voicemail_dir,
        moved,
    )
    desk.subscribe(rig.events.append)
    try:
        yield rig
    finally:
        await rig.voicemails.intake.close()
        await rig.follow_ups.intake.close()
        await desk.stop()
        await acd.close()
        await engine.dispose()

"""The aiohttp application: each feature contributes its routes here.

Later issues (supervisor page, agent screen-pop, admin, REST API for chat and e-mail) add
a keyword argument and an ``add_routes`` call; handlers get their collaborators through
their own objects, never through module globals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from pathlib import Path

from aiohttp import web

import hotline.web.admin.pages as admin_pages
from center.acd_cluster_figures import ClusterFigures
from center.call_controller import CallController
from center.conversations import ConversationDesk
from center.recording import CallRecorder
from center.service import AcdService
from center.task_callbacks import TaskCallbacks
from history.access_log import AccessLog
from history.audit import AuditLog
from history.conversations import ConversationIntake, Conversations
from history.repository import HistoryRepository
from history.writer import HistoryWriter
from hotline.config_edit import ConfigEditor
from hotline.reports.figures import ReportFigures
from hotline.web import metrics
from hotline.web import recordings as recording_routes
from hotline.web import transcripts as transcript_routes
from hotline.web.access import ACCESS, AccessTrail
from hotline.web.admin import users as admin_users
from hotline.web.agent import call_routes
from hotline.web.agent.conversations import DeskRoutes
from hotline.web.agent.desk_panel import DeskPanel
from hotline.web.agent.pages import AgentPages
from hotline.web.agent.presence import DesktopPresence
from hotline.web.api.context import ApiSettings
from hotline.web.api.service import HistoryApi
from hotline.web.auth import enrolment, login
from hotline.web.auth.guard import AUTH, WebAuth
from hotline.web.chat import pages as chat_pages
from hotline.web.chat.hub import ChatHub
from hotline.web.health import Health, ReadinessCheck
from hotline.web.i18n import switch as language_switch
from hotline.web.reports import pages as report_pages
from hotline.web.supervisor import pages as supervisor_pages
from hotline.web.supervisor.hub import SupervisorHub
from hotline.web.tokens import TokenStore
from telephony.ami_client import AmiClient


def create_web_app(
    *,
    readiness: Mapping[str, ReadinessCheck],
    repository: HistoryRepository | None = None,
    writer: HistoryWriter | None = None,
    api_settings: ApiSettings | None = None,
    auth: WebAuth | None = None,
    acd: AcdService | None = None,
    hub: SupervisorHub | None = None,
    cluster_figures: Callable[[], ClusterFigures] | None = None,
    ami: AmiClient | None = None,
    audit: AuditLog | None = None,
    config_editor: ConfigEditor | None = None,
    conversations: Conversations | None = None,
    conversation_intake: ConversationIntake | None = None,
    chat: ChatHub | None = None,
    desk: ConversationDesk | None = None,
    desk_panel: DeskPanel | None = None,
    call_control: CallController | None = None,
    access: AccessTrail | None = None,
    task_callbacks: TaskCallbacks | None = None,
    recorder: CallRecorder | None = None,
    reports: ReportFigures | None = None,
) -> web.Application:
    """``repository`` mounts the history API under ``/api/v1/``; ``writer`` (the voice
    side's spooling writer) lets it accept interaction appends while the store is down.
    ``auth`` mounts the sign-in pages; with ``acd`` and ``hub`` also the supervisor and
    (with ``repository``) agent pages; ``ami`` lets supervisors listen, whisper and barge.
    ``audit`` records admins' changes; ``config_editor`` mounts the config editing pages.
    ``conversations`` (with the configured caps) and ``conversation_intake`` (routing) serve
    the API's conversation endpoints. ``chat`` serves the web chat's widget and socket (to
    anyone: visitors are anonymous); ``desk`` and ``desk_panel`` the agent page's chats and
    e-mails; ``call_control`` the agent page's call control (and supervisors' hang-up).
    ``access`` records who reads which customer's data (by default, with ``repository``:
    through ``writer``, never purged). Voicemails and follow-ups are on the desk too:
    ``task_callbacks`` books callbacks from them. ``recorder``: agents pause and resume their
    call's recording; supervisors and admins list and play recordings. ``reports``: the
    supervisors' historical reports (``/reports``). ``cluster_figures``: a node of a shared
    ACD, its figures on ``/metrics``."""
    app = web.Application()
    if access is None and repository is not None:
        clock = repository.context.clock
        access = AccessTrail(AccessLog(repository.engine, clock=clock), writer, clock=clock)
    if access is not None:
        app[ACCESS] = access
        app.cleanup_ctx.append(access.keep_purging)
    Health(readiness).add_routes(app)
    if chat is not None:
        chat_pages.add_routes(app, chat)
    if repository is not None:
        HistoryApi(
            repository,
            writer=writer,
            settings=api_settings,
            conversations=conversations,
            intake=conversation_intake,
            access=access,
        ).mount(app)
    if auth is not None:
        # The people's pages: sign-in, then each role's page (``auth.guard.requires``).
        app[AUTH] = auth
        login.add_routes(app)
        enrolment.add_routes(app)
        language_switch.add_routes(app)
        admin_users.add_routes(app)
        # Admins edit agents, queues, prompts and the catalog (``config_edit``), audited.
        admin_pages.add_routes(app, audit=audit, editor=config_editor)
        static = Path(str(resources.files("hotline.web").joinpath("static")))
        app.router.add_static("/static/", static)
        if acd is not None and hub is not None:
            supervisor_pages.add_routes(app, hub, acd, ami, audit)
            if repository is not None:
                # an agent whose every page is gone past the grace period: desktop_lost
                presence = DesktopPresence(acd)
                app.on_shutdown.append(_closing(presence))
                AgentPages(acd, hub, repository, writer, presence=presence).add_routes(app)
                if call_control is not None:
                    call_routes.add_routes(app, call_control)
                if recorder is not None:
                    recording_routes.add_routes(app, recorder, repository)
                # post-call transcripts: searched, and their trends (supervisors, admins)
                transcript_routes.add_routes(app, repository)
                if desk is not None and desk_panel is not None:
                    routes = DeskRoutes(
                        desk, desk_panel, repository, presence=presence, callbacks=task_callbacks
                    )
                    routes.add_routes(app)
            tokens = TokenStore(repository.engine) if repository is not None else None
            metrics.add_routes(app, hub, tokens, cluster_figures)
        if reports is not None:
            report_pages.add_routes(app, reports)
    return app


def _closing(presence: DesktopPresence) -> Callable[[web.Application], Awaitable[None]]:
    async def close(_: web.Application) -> None:
        presence.close()  # pages closing as the service stops are not agents leaving

    return close

"""The service's parts' settings, each from one ``Config`` (the web server's defences are
``hotline.web_config``'s): the FastAGI fallback and limits, the conversations' routing and
caps, where voicemails are recorded, the SQLite file's directory."""

from __future__ import annotations

from center.conversation_routing import ConversationRouting
from history.conversations import MessageLimits
from history.inputs import Channel
from hotline.config import Config
from ivr.flow.nodes import VoicemailStep
from telephony.agi_server import AgiLimits, Fallback


def fallback(config: Config) -> Fallback:
    fallback = config.fallback
    return Fallback(
        context=fallback.context, extension=fallback.extension, priority=fallback.priority
    )


def agi_limits(config: Config) -> AgiLimits:
    limits = config.fastagi.limits
    return AgiLimits(
        max_header_bytes=limits.max_header_bytes,
        max_line=limits.max_line_bytes,
        header_timeout_s=limits.header_timeout_s,
        idle_timeout_s=limits.idle_timeout_s,
        command_timeout_s=limits.command_timeout_s,
        media_timeout_s=limits.media_timeout_s,
        max_sessions=limits.max_sessions,
    )


#: Channels a messaging module carries (it hears agents' messages by webhook).
MODULE_CHANNELS = (Channel.WHATSAPP, Channel.SMS)


def conversation_routing(config: Config) -> ConversationRouting:
    queues = config.queues
    return ConversationRouting(
        queues.conversation_queue or "",
        dict(queues.conversations.queues),
        language=config.ivr.language,
    )


def voicemail_dirs(config: Config) -> list[str]:
    """Where voicemails are recorded (as hotline sees them: the same paths as Asterisk, a
    shared volume): ``waiting.yaml``'s ``voicemail_dir`` and the IVR's voicemail steps'."""
    steps = [s.directory for s in config.ivr.nodes.values() if isinstance(s, VoicemailStep)]
    return [config.waiting.voicemail_dir, *steps]


def message_limits(config: Config) -> MessageLimits:
    caps = config.messages
    return MessageLimits(
        max_body_chars=caps.max_body_chars,
        max_attachment_bytes=caps.max_attachment_bytes,
        max_message_attachment_bytes=caps.max_message_attachment_bytes,
        max_attachments_per_message=caps.max_attachments_per_message,
    )


def prepare_database_dir(config: Config) -> None:
    """The history store is a later issue; its SQLite file's directory must exist by then."""
    path = config.database.sqlite_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)

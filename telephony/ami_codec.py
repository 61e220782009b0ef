"""Asterisk Manager Interface (AMI) wire codec: framing and names, no I/O.

AMI is `Key: Value\\r\\n` lines ending in a blank line. The same decoder serves both sides: the
service side (our client) first expects the `Asterisk Call Manager/x.y.z` banner; Asterisk's side
(the emulator) does not. The two sides differ where Asterisk's own parser is lenient; see
`AmiDecoder`. Every AMI action, event, header and value string hotline uses is named here, once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

BANNER_PREFIX: Final = "Asterisk Call Manager/"
AMI_VERSION: Final = "9.0.0"  # what Asterisk 20 announces in the banner

# -- actions -------------------------------------------------------------------------------
ACTION_LOGIN: Final = "Login"
ACTION_LOGOFF: Final = "Logoff"
ACTION_PING: Final = "Ping"
ACTION_EVENTS: Final = "Events"
ACTION_ORIGINATE: Final = "Originate"
ACTION_REDIRECT: Final = "Redirect"
ACTION_HANGUP: Final = "Hangup"
ACTION_GETVAR: Final = "Getvar"
ACTION_SETVAR: Final = "Setvar"
ACTION_CORE_SHOW_CHANNELS: Final = "CoreShowChannels"
ACTION_CORE_STATUS: Final = "CoreStatus"
ACTION_CORE_SETTINGS: Final = "CoreSettings"
ACTION_STATUS: Final = "Status"
ACTION_QUEUE_STATUS: Final = "QueueStatus"
ACTION_QUEUE_SUMMARY: Final = "QueueSummary"
ACTION_QUEUE_ADD: Final = "QueueAdd"
ACTION_QUEUE_REMOVE: Final = "QueueRemove"
ACTION_QUEUE_PAUSE: Final = "QueuePause"
ACTION_DEVICE_STATE_LIST: Final = "DeviceStateList"
ACTION_EXTENSION_STATE: Final = "ExtensionState"
ACTION_SIP_PEERS: Final = "SIPpeers"
ACTION_SIP_SHOW_PEER: Final = "SIPshowpeer"
ACTION_COMMAND: Final = "Command"
ACTION_MIXMONITOR_MUTE: Final = "MixMonitorMute"
ACTION_ATXFER: Final = "Atxfer"
ACTION_CANCEL_ATXFER: Final = "CancelAtxfer"
ACTION_PLAY_DTMF: Final = "PlayDTMF"

# -- events --------------------------------------------------------------------------------
EVENT_FULLY_BOOTED: Final = "FullyBooted"
EVENT_SHUTDOWN: Final = "Shutdown"
EVENT_SUCCESSFUL_AUTH: Final = "SuccessfulAuth"
EVENT_INVALID_PASSWORD: Final = "InvalidPassword"
EVENT_INVALID_ACCOUNT_ID: Final = "InvalidAccountID"
EVENT_REQUEST_BAD_FORMAT: Final = "RequestBadFormat"
EVENT_NEWCHANNEL: Final = "Newchannel"
EVENT_NEWSTATE: Final = "Newstate"
EVENT_NEWEXTEN: Final = "Newexten"
EVENT_NEW_CALLERID: Final = "NewCallerid"
EVENT_NEW_CONNECTED_LINE: Final = "NewConnectedLine"
EVENT_VAR_SET: Final = "VarSet"
EVENT_HANGUP: Final = "Hangup"
EVENT_HANGUP_REQUEST: Final = "HangupRequest"
EVENT_SOFT_HANGUP_REQUEST: Final = "SoftHangupRequest"
EVENT_DIAL_BEGIN: Final = "DialBegin"
EVENT_DIAL_STATE: Final = "DialState"
EVENT_DIAL_END: Final = "DialEnd"
EVENT_BRIDGE_CREATE: Final = "BridgeCreate"
EVENT_BRIDGE_ENTER: Final = "BridgeEnter"
EVENT_BRIDGE_LEAVE: Final = "BridgeLeave"
EVENT_BRIDGE_DESTROY: Final = "BridgeDestroy"
EVENT_DEVICE_STATE_CHANGE: Final = "DeviceStateChange"
EVENT_CONTACT_STATUS: Final = "ContactStatus"  # a PJSIP contact registered, qualified, gone
EVENT_EXTENSION_STATUS: Final = "ExtensionStatus"
EVENT_AGENT_CALLED: Final = "AgentCalled"
EVENT_AGENT_CONNECT: Final = "AgentConnect"
EVENT_AGENT_COMPLETE: Final = "AgentComplete"
EVENT_AGENT_RINGNOANSWER: Final = "AgentRingNoAnswer"
EVENT_QUEUE_CALLER_JOIN: Final = "QueueCallerJoin"
EVENT_QUEUE_CALLER_LEAVE: Final = "QueueCallerLeave"
EVENT_QUEUE_CALLER_ABANDON: Final = "QueueCallerAbandon"
EVENT_QUEUE_MEMBER_ADDED: Final = "QueueMemberAdded"
EVENT_QUEUE_MEMBER_REMOVED: Final = "QueueMemberRemoved"
EVENT_QUEUE_MEMBER_PAUSE: Final = "QueueMemberPause"
EVENT_QUEUE_MEMBER_STATUS: Final = "QueueMemberStatus"
EVENT_MUSIC_ON_HOLD_START: Final = "MusicOnHoldStart"
EVENT_HOLD: Final = "Hold"  # a channel put its peer on hold (a phone's re-INVITE)
EVENT_UNHOLD: Final = "Unhold"
EVENT_MUSIC_ON_HOLD_STOP: Final = "MusicOnHoldStop"
EVENT_ORIGINATE_RESPONSE: Final = "OriginateResponse"
EVENT_AGI_EXEC_START: Final = "AGIExecStart"
EVENT_AGI_EXEC_END: Final = "AGIExecEnd"
EVENT_DTMF_BEGIN: Final = "DTMFBegin"
EVENT_DTMF_END: Final = "DTMFEnd"
#: func_talkdetect: the caller started talking (class ``call``; only while TALK_DETECT is set)
EVENT_CHANNEL_TALKING_START: Final = "ChannelTalkingStart"
#: func_talkdetect: the caller stopped (its silence time passed since their last loud frame)
EVENT_CHANNEL_TALKING_STOP: Final = "ChannelTalkingStop"
EVENT_CDR: Final = "Cdr"
EVENT_RTCP_SENT: Final = "RTCPSent"
# list items and list terminators (EventList responses)
EVENT_CORE_SHOW_CHANNEL: Final = "CoreShowChannel"
EVENT_CORE_SHOW_CHANNELS_COMPLETE: Final = "CoreShowChannelsComplete"
EVENT_STATUS: Final = "Status"
EVENT_STATUS_COMPLETE: Final = "StatusComplete"
EVENT_QUEUE_PARAMS: Final = "QueueParams"
EVENT_QUEUE_MEMBER: Final = "QueueMember"
EVENT_QUEUE_ENTRY: Final = "QueueEntry"
EVENT_QUEUE_STATUS_COMPLETE: Final = "QueueStatusComplete"
EVENT_QUEUE_SUMMARY: Final = "QueueSummary"
EVENT_QUEUE_SUMMARY_COMPLETE: Final = "QueueSummaryComplete"
EVENT_DEVICE_STATE_LIST_COMPLETE: Final = "DeviceStateListComplete"
EVENT_PEER_ENTRY: Final = "PeerEntry"
EVENT_PEERLIST_COMPLETE: Final = "PeerlistComplete"

# -- headers -------------------------------------------------------------------------------
HEADER_ACTION: Final = "Action"
HEADER_ACTION_ID: Final = "ActionID"
HEADER_RESPONSE: Final = "Response"
HEADER_EVENT: Final = "Event"
HEADER_MESSAGE: Final = "Message"
HEADER_PRIVILEGE: Final = "Privilege"
HEADER_EVENT_LIST: Final = "EventList"
HEADER_LIST_ITEMS: Final = "ListItems"
HEADER_ITEMS: Final = "Items"
HEADER_USERNAME: Final = "Username"
HEADER_SECRET: Final = "Secret"
HEADER_KEY: Final = "Key"  # MD5 challenge login
HEADER_EVENTS: Final = "Events"
HEADER_EVENT_MASK: Final = "EventMask"
HEADER_PING: Final = "Ping"
HEADER_TIMESTAMP: Final = "Timestamp"
HEADER_OUTPUT: Final = "Output"
HEADER_COMMAND: Final = "Command"
HEADER_CHANNEL: Final = "Channel"
HEADER_CHANNEL_STATE: Final = "ChannelState"
HEADER_CHANNEL_ID: Final = "ChannelId"  # Originate: the uniqueid the new channel gets
HEADER_CHANNEL_STATE_DESC: Final = "ChannelStateDesc"
HEADER_CALLER_ID: Final = "CallerID"
HEADER_CALLER_ID_NUM: Final = "CallerIDNum"
HEADER_CALLER_ID_NAME: Final = "CallerIDName"
HEADER_CONNECTED_LINE_NUM: Final = "ConnectedLineNum"
HEADER_CONNECTED_LINE_NAME: Final = "ConnectedLineName"
HEADER_LANGUAGE: Final = "Language"
HEADER_ACCOUNT_CODE: Final = "AccountCode"
HEADER_CONTEXT: Final = "Context"
HEADER_EXTEN: Final = "Exten"
HEADER_PRIORITY: Final = "Priority"
HEADER_UNIQUEID: Final = "Uniqueid"
HEADER_LINKEDID: Final = "Linkedid"
HEADER_APPLICATION: Final = "Application"
HEADER_DATA: Final = "Data"
HEADER_ASYNC: Final = "Async"
HEADER_TIMEOUT: Final = "Timeout"
HEADER_VARIABLE: Final = "Variable"
HEADER_VARIABLES: Final = "Variables"
HEADER_VALUE: Final = "Value"
#: chan_pjsip: an endpoint's contacts that can be rung, ``PJSIP/<endpoint>/<uri>&...``
#: (read by ``Getvar`` with ``call`` rights; ``PJSIPShowContacts`` needs ``system``).
FUNCTION_PJSIP_DIAL_CONTACTS: Final = "PJSIP_DIAL_CONTACTS"
HEADER_CAUSE: Final = "Cause"
HEADER_CAUSE_TXT: Final = "Cause-txt"
HEADER_REASON: Final = "Reason"
HEADER_DEVICE: Final = "Device"
HEADER_STATE: Final = "State"
HEADER_QUEUE: Final = "Queue"
HEADER_INTERFACE: Final = "Interface"
HEADER_MEMBER: Final = "Member"
HEADER_PAUSED: Final = "Paused"
HEADER_PAUSED_REASON: Final = "PausedReason"
HEADER_DEST_CHANNEL: Final = "DestChannel"
HEADER_DIAL_STATUS: Final = "DialStatus"
HEADER_BRIDGE_UNIQUEID: Final = "BridgeUniqueid"
HEADER_DIGIT: Final = "Digit"
HEADER_RECEIVE: Final = "Receive"
HEADER_DIRECTION: Final = "Direction"
HEADER_SHUTDOWN: Final = "Shutdown"
HEADER_RESTART: Final = "Restart"
HEADER_STATUS: Final = "Status"

# -- values --------------------------------------------------------------------------------
RESPONSE_SUCCESS: Final = "Success"
RESPONSE_ERROR: Final = "Error"
RESPONSE_GOODBYE: Final = "Goodbye"
RESPONSE_FAILURE: Final = "Failure"  # OriginateResponse only
EVENT_LIST_START: Final = "start"
EVENT_LIST_COMPLETE: Final = "Complete"
EVENTS_ON: Final = "on"
EVENTS_OFF: Final = "off"
MESSAGE_AUTH_ACCEPTED: Final = "Authentication accepted"
MESSAGE_AUTH_FAILED: Final = "Authentication failed"
MESSAGE_PERMISSION_DENIED: Final = "Permission denied"
MESSAGE_MISSING_ACTION: Final = "Missing action in request"
MESSAGE_GOODBYE: Final = "Thanks for all the fish."

SECRET_HEADERS: Final = frozenset({HEADER_SECRET.lower(), HEADER_KEY.lower()})
_MASK: Final = "********"

Role = Literal["service", "asterisk"]


class AmiProtocolError(ValueError):
    """The peer sent bytes that are not AMI; the stream is out of sync and must be closed.

    `messages` holds what decoded cleanly in the same `feed` before the fault.
    """

    def __init__(self, reason: str, messages: tuple[AmiMessage, ...] = ()) -> None:
        super().__init__(reason)
        self.messages = messages


@dataclass(frozen=True, slots=True, repr=False)
class AmiMessage:
    """One AMI message: ordered pairs, keys looked up case-insensitively (as Asterisk does).

    Keys may repeat (`Output:` lines of a `Command` response); `get` returns the first,
    `get_all` every value in order.
    """

    pairs: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> AmiMessage:
        return cls(tuple((k, v) for k, v in pairs))

    @classmethod
    def of(cls, *pairs: tuple[str, str], **fields: str) -> AmiMessage:
        """Pairs in order, then keyword fields (`AmiMessage.of((HEADER_ACTION, "Ping"))`)."""
        return cls((*pairs, *fields.items()))

    def get(self, key: str, default: str | None = None) -> str | None:
        wanted = key.lower()
        for k, v in self.pairs:
            if k.lower() == wanted:
                return v
        return default

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get_all(self, key: str) -> tuple[str, ...]:
        wanted = key.lower()
        return tuple(v for k, v in self.pairs if k.lower() == wanted)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}: {_MASK if k.lower() in SECRET_HEADERS else v}" for k, v in self.pairs
        )
        return f"AmiMessage({shown})"

    __str__ = __repr__

    @property
    def event(self) -> str | None:
        return self.get(HEADER_EVENT)

    @property
    def response(self) -> str | None:
        return self.get(HEADER_RESPONSE)

    @property
    def action(self) -> str | None:
        return self.get(HEADER_ACTION)

    @property
    def action_id(self) -> str | None:
        return self.get(HEADER_ACTION_ID)

    @property
    def message(self) -> str | None:
        """The human-readable `Message:` header (error reasons live here)."""
        return self.get(HEADER_MESSAGE)

    @property
    def is_success(self) -> bool:
        return (self.response or "").lower() == RESPONSE_SUCCESS.lower()

    @property
    def is_error(self) -> bool:
        return (self.response or "").lower() == RESPONSE_ERROR.lower()

    @property
    def starts_list(self) -> bool:
        return (self.get(HEADER_EVENT_LIST) or "").lower() == EVENT_LIST_START.lower()

    @property
    def completes_list(self) -> bool:
        return (self.get(HEADER_EVENT_LIST) or "").lower() == EVENT_LIST_COMPLETE.lower()

    def encode(self) -> bytes:
        return encode_message(self.pairs)


def encode_message(pairs: Iterable[tuple[str, str]]) -> bytes:
    """`K: V\\r\\n` per pair plus the blank line. Refuses CR/LF in keys and values: a value
    carrying `\\r\\n` would smuggle extra headers or a whole extra action to Asterisk."""
    out: list[str] = []
    for key, value in pairs:
        if not key or ":" in key or _has_eol(key):
            raise ValueError(f"invalid AMI header name {key!r}")
        if _has_eol(value):
            raise ValueError(f"AMI header {key!r} value contains a line break")
        out.append(f"{key}: {value}\r\n")
    out.append("\r\n")
    return "".join(out).encode("utf-8")


def encode_banner(version: str = AMI_VERSION) -> bytes:
    """The greeting Asterisk sends on connect (a single line, no blank line after it)."""
    return f"{BANNER_PREFIX}{version}\r\n".encode("ascii")


def _has_eol(text: str) -> bool:
    return "\r" in text or "\n" in text


class AmiDecoder:
    """Splits an AMI byte stream into messages. Pure; `feed` as bytes arrive.

    Accepts CRLF and LF-only line ends, messages split across feeds and several per feed.
    `role` (default: "service" when `expect_banner`, else "asterisk") decides what Asterisk's
    lenient parser would tolerate:

    * service side: blank lines between messages are skipped (chan_sip sends a stray `\\r\\n`
      after a `SIPshowpeer` error); a line without a colon is `AmiProtocolError` (Asterisk
      never sends one); the value is everything after `": "`, leading spaces kept (RTCP
      `VarSet` values start with spaces).
    * asterisk side: a lone blank line is an empty message (Asterisk answers it with
      "Missing action in request"); a line without a colon is ignored, as Asterisk's
      header lookup never matches it; blanks after the colon are skipped.

    Bytes that are not UTF-8 become U+FFFD, and NUL does too, so a caller name with a Latin-1
    byte costs one character, never the connection, and no later DB write chokes on it.
    Oversized lines or messages raise `AmiProtocolError`; after that the decoder stays failed.

    A message is parsed whole: its blank line is found with `bytes.find`, its header block
    decoded once and split into pairs by one regex pass. Header lines of a message that is
    still arriving are parsed (and checked) as they come, so a bad line fails the stream
    without waiting for the rest of its message.
    """

    def __init__(
        self,
        max_message_bytes: int = 65536,
        expect_banner: bool = True,
        *,
        max_line_bytes: int = 8192,
        role: Role | None = None,
    ) -> None:
        self._max_message = max_message_bytes
        self._max_line = max_line_bytes
        self._role: Role = role or ("service" if expect_banner else "asterisk")
        self._headers = _SERVICE_HEADER if self._role == "service" else _ASTERISK_HEADER
        self._need_banner = expect_banner
        self.banner: str | None = None
        self._buf = bytearray()
        self._pairs: list[tuple[str, str]] = []
        self._in_message = False
        self._message_bytes = 0
        self._failure: str | None = None

    @property
    def version(self) -> str | None:
        """The AMI version from the banner (`9.0.0` on Asterisk 20)."""
        if self.banner is None:
            return None
        return self.banner[len(BANNER_PREFIX) :]

    @property
    def pending_bytes(self) -> int:
        """Bytes held for an unfinished message (for tests and diagnostics)."""
        return self._message_bytes + len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[AmiMessage]:
        """The messages `data` completes (copied in, so a reused read buffer is fine)."""
        if self._failure is not None:
            raise AmiProtocolError(self._failure)
        self._buf += data
        out: list[AmiMessage] = []
        try:
            used = self._messages(out)
        except AmiProtocolError as exc:
            self._failure = str(exc)
            self._buf.clear()
            raise AmiProtocolError(str(exc), tuple(out)) from None
        del self._buf[:used]
        return out

    def _messages(self, out: list[AmiMessage]) -> int:
        """Decodes what `_buf` holds into `out`; returns how many bytes were used."""
        buf = self._buf
        end = len(buf)
        pos = 0
        if self._need_banner and self.banner is None:
            nl = buf.find(b"\n")
            if nl < 0:
                self._check_partial(end)
                return 0
            self._banner(bytes(buf[:nl]))
            pos = nl + 1
        # Where the next "\n\r\n" / "\n\n" starts: a blank line right after a header line.
        # -2: not searched yet; -1: none left in this buffer (so a long LF-only or CRLF-only
        # stream is scanned once per feed, not once per message).
        crlf = lf = -2
        while pos < end:
            first = buf[pos]
            if first == _LF:  # a blank line right here: it ends the message, if any
                self._end_message(out)
                pos += 1
                continue
            if first == _CR and pos + 1 < end and buf[pos + 1] == _LF:
                self._end_message(out)
                pos += 2
                continue
            if crlf != -1 and crlf < pos:
                crlf = buf.find(b"\n\r\n", pos)
            if lf != -1 and lf < pos:
                lf = buf.find(b"\n\n", pos)
            if crlf < 0 and lf < 0:  # the message is still arriving: take its whole lines
                last = buf.rfind(b"\n", pos)
                if last >= 0:
                    self._header_block(bytes(buf[pos : last + 1]))
                    pos = last + 1
                self._check_partial(end - pos)
                break
            if lf < 0 or 0 <= crlf < lf:
                self._header_block(bytes(buf[pos : crlf + 1]))
                pos = crlf + 3
            else:
                self._header_block(bytes(buf[pos : lf + 1]))
                pos = lf + 2
            self._end_message(out)
        return pos

    def _check_partial(self, size: int) -> None:
        if size > self._max_line + 1:
            raise AmiProtocolError(f"AMI line longer than {self._max_line} bytes")
        if self._message_bytes + size > self._max_message:
            raise AmiProtocolError(f"AMI message larger than {self._max_message} bytes")

    def _banner(self, raw: bytes) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if len(raw) > self._max_line:
            raise AmiProtocolError(f"AMI line longer than {self._max_line} bytes")
        text = _text(raw)
        if not text.startswith(BANNER_PREFIX):
            raise AmiProtocolError(f"not an AMI server: first line {text[:60]!r}")
        self.banner = text

    def _end_message(self, out: list[AmiMessage]) -> None:
        if self._in_message or self._role == "asterisk":
            out.append(AmiMessage(tuple(self._pairs)))
        self._pairs = []
        self._in_message = False
        self._message_bytes = 0

    def _header_block(self, block: bytes) -> None:
        """Whole header lines (none blank), each ending in `\\n`, of the current message.

        One decode and one regex pass; when a line may break a cap or does not parse as
        `Key: Value`, `_header_line` goes line by line to fail (or skip) exactly there.
        """
        lines = block.count(b"\n")
        size = self._message_bytes + len(block) + lines - block.count(b"\r\n")  # +2 per line
        if size <= self._max_message and (
            len(block) <= self._max_line or max(map(len, block.split(b"\n"))) <= self._max_line
        ):
            text = _text(block)
            if "\r" in text:
                text = text.replace("\r\n", "\n")  # one CR per line, as `_header_line` does
            pairs = self._headers.findall(text)
            if len(pairs) == lines:
                self._pairs += pairs
                self._in_message = True
                self._message_bytes = size
                return
        for raw in block.split(b"\n")[:-1]:
            self._header_line(raw)

    def _header_line(self, raw: bytes) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if len(raw) > self._max_line:
            raise AmiProtocolError(f"AMI line longer than {self._max_line} bytes")
        self._in_message = True
        self._message_bytes += len(raw) + 2
        if self._message_bytes > self._max_message:
            raise AmiProtocolError(f"AMI message larger than {self._max_message} bytes")
        text = _text(raw)
        key, colon, value = text.partition(":")
        if not colon or not key:
            if self._role == "asterisk":
                return
            raise AmiProtocolError(f"AMI line without a header name: {text[:60]!r}")
        if self._role == "asterisk":
            value = value.lstrip(" \t")
        elif value.startswith(" "):
            value = value[1:]
        self._pairs.append((key, value))


_LF: Final = ord("\n")
_CR: Final = ord("\r")
# `Key: Value` lines of a decoded header block: the key is everything before the first colon
# (never empty); the service side drops one space after the colon, Asterisk's side all blanks.
_SERVICE_HEADER: Final = re.compile(r"^([^:\n]+): ?(.*)", re.MULTILINE)
_ASTERISK_HEADER: Final = re.compile(r"^([^:\n]+):[ \t]*(.*)", re.MULTILINE)


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text

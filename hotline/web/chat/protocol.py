"""The chat widget's wire: JSON text frames over ``/chat/ws``, each with a ``type``.

Pure: frames in, typed frames out, no I/O. Every frame type and error code is named once
here (the widget's script spells the same strings). What a visitor's page sends is hostile:
every field is checked for type and size, and a bad frame is a :class:`FrameError` whose
``fatal`` says whether the connection can go on (a mistake in one frame: an error frame, the
connection kept) or not (a client that does not speak the protocol: closed).

Client → server::

    {"type": "hello", "visitor": "<id or null>", "last": <message id>, "name": "", "email": ""}
    {"type": "message", "id": "<client message id>", "text": "..."}
    {"type": "typing", "on": true}
    {"type": "receipt", "state": "delivered" | "read", "ids": [<message id>, ...]}
    {"type": "leave"}

Server → client: ``welcome``, ``replay`` (the thread after the page's last message),
``message``, ``ack`` (a message stored), ``delivery``, ``typing``, ``status``, ``error``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

# frame types ---------------------------------------------------------------------------
HELLO: Final = "hello"
MESSAGE: Final = "message"
TYPING: Final = "typing"
RECEIPT: Final = "receipt"
LEAVE: Final = "leave"
WELCOME: Final = "welcome"
ACK: Final = "ack"
REPLAY: Final = "replay"
DELIVERY: Final = "delivery"
STATUS: Final = "status"
ERROR: Final = "error"

# error codes ---------------------------------------------------------------------------
MALFORMED: Final = "malformed"
UNKNOWN_TYPE: Final = "unknown_type"
HELLO_FIRST: Final = "hello_first"
TOO_LONG: Final = "too_long"
EMPTY: Final = "empty"
RATE_LIMITED: Final = "rate_limited"
NOT_STORED: Final = "not_stored"
NO_CONVERSATION: Final = "no_conversation"

# conversation states the widget shows ---------------------------------------------------
WAITING: Final = "waiting"
CONNECTED: Final = "connected"
CLOSED: Final = "closed"
LEFT: Final = "left"

ReceiptState = Literal["delivered", "read"]

#: A visitor id: long enough not to be guessed (the server makes 128-bit ones).
VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{22,64}")
#: A client message id (the page makes a random one per message; resent as is).
CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
MAX_NAME_CHARS: Final = 200
MAX_EMAIL_CHARS: Final = 254
MAX_RECEIPT_IDS: Final = 200
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FrameError(Exception):
    """A frame refused: ``code`` for the page, ``detail`` for its developer; ``fatal``:
    the connection is closed after the error frame."""

    def __init__(self, code: str, detail: str, *, fatal: bool = False, ref: str | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.fatal = fatal
        self.ref = ref


@dataclass(frozen=True, slots=True)
class Hello:
    visitor: str | None
    last: int
    name: str | None
    email: str | None


@dataclass(frozen=True, slots=True)
class Said:
    client_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Typing:
    on: bool


@dataclass(frozen=True, slots=True)
class Receipt:
    state: ReceiptState
    ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Leave:
    pass


Frame = Hello | Said | Typing | Receipt | Leave


def parse(raw: str, *, max_chars: int) -> Frame:
    """One text frame from a visitor's page; ``max_chars`` caps a message's text."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise FrameError(MALFORMED, "a frame is one JSON object") from None
    if not isinstance(data, dict):
        raise FrameError(MALFORMED, "a frame is one JSON object")
    kind = data.get("type")
    if kind == MESSAGE:
        return _said(data, max_chars)
    if kind == TYPING:
        return Typing(on=_flag(data, "on"))
    if kind == RECEIPT:
        return _receipt(data)
    if kind == HELLO:
        return _hello(data)
    if kind == LEAVE:
        return Leave()
    shown = kind if isinstance(kind, str) and len(kind) <= 32 else "?"
    raise FrameError(UNKNOWN_TYPE, f"unknown frame type {shown!r}")


def _said(data: dict[str, Any], max_chars: int) -> Said:
    client_id = data.get("id")
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise FrameError(MALFORMED, "a message needs an id: 1-64 letters, digits or _.:-")
    text = data.get("text")
    if not isinstance(text, str):
        raise FrameError(MALFORMED, "a message's text is a string", ref=client_id)
    if len(text) > max_chars:
        raise FrameError(TOO_LONG, f"at most {max_chars} characters a message", ref=client_id)
    text = _CONTROL.sub("", text.replace("\r\n", "\n")).strip()
    if not text:
        raise FrameError(EMPTY, "an empty message is not sent", ref=client_id)
    if _has_lone_surrogate(text):
        raise FrameError(MALFORMED, "not valid Unicode text", ref=client_id)
    return Said(client_id, text)


def _hello(data: dict[str, Any]) -> Hello:
    visitor = data.get("visitor")
    if visitor is not None and (not isinstance(visitor, str) or not VISITOR_ID.fullmatch(visitor)):
        visitor = None  # not one of ours: the visitor gets a new id
    last = data.get("last", 0)
    if last is None:
        last = 0
    if not isinstance(last, int) or isinstance(last, bool) or last < 0:
        raise FrameError(MALFORMED, "last is the id of the last message the page has")
    name = _optional_text(data, "name", MAX_NAME_CHARS)
    email = _optional_text(data, "email", MAX_EMAIL_CHARS)
    if email is not None and not _EMAIL.fullmatch(email):
        raise FrameError(MALFORMED, "that e-mail address does not look like one")
    return Hello(visitor, last, name, email)


def _receipt(data: dict[str, Any]) -> Receipt:
    state = data.get("state")
    if state not in ("delivered", "read"):
        raise FrameError(MALFORMED, "a receipt's state is delivered or read")
    ids = data.get("ids")
    if (
        not isinstance(ids, list)
        or len(ids) > MAX_RECEIPT_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids)
    ):
        raise FrameError(MALFORMED, f"a receipt names 1-{MAX_RECEIPT_IDS} message ids")
    return Receipt(state, tuple(dict.fromkeys(ids)))


def _flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise FrameError(MALFORMED, f"{key} is true or false")
    return value


def _optional_text(data: dict[str, Any], key: str, limit: int) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise FrameError(MALFORMED, f"{key} is text of at most {limit} characters")
    value = _CONTROL.sub("", value).strip()
    if _has_lone_surrogate(value):
        raise FrameError(MALFORMED, f"{key} is not valid Unicode text")
    return value or None


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# server frames ---------------------------------------------------------------------------
def dump(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def error(code: str, detail: str, *, ref: str | None = None, **more: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": ERROR, "code": code, "detail": detail}
    if ref is not None:
        frame["ref"] = ref
    return frame | more

"""What a bot's phone does with each SIP datagram, decided before pyVoIP sees it.

pyVoIP 1.6.8 understands four requests (INVITE, ACK, BYE, CANCEL) and the responses to its
own. Anything else makes its parser raise: in its receive loop the datagram is silently
dropped (so Asterisk's ``qualify_frequency`` OPTIONS go unanswered and the phone is marked
Unreachable), and while ``phone.call()`` waits for its INVITE's first response the error
escapes and kills the call. So every datagram is triaged first:

- requests pyVoIP handles, and responses, go on to pyVoIP (:class:`Forward`), but only when
  its parser accepts them;
- CANCEL is the phone's to answer (:class:`Cancel`): pyVoIP answers it 200 with a tag of
  its own and never ends the INVITE (no 487), so an agent bot would answer a dead call;
- OPTIONS is answered 200 OK, as a softphone does, in any state (idle, ringing, in a call);
- other SIP methods are refused: 405 for the standard ones, 501 for the rest;
- what pyVoIP would choke on is refused (400, or 513 past the 8192 bytes pyVoIP reads), or
  dropped (:class:`Drop`, with why) when it cannot be answered.

Pure: bytes in, a decision out (the reply's bytes and where to send them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "ALLOWED_METHODS",
    "Cancel",
    "Drop",
    "Forward",
    "Identity",
    "Reply",
    "Request",
    "Verdict",
    "call_id_of",
    "dialog_tag",
    "parse_request",
    "response_to",
    "triage",
    "with_to_tag",
]

SIP_VERSION = "SIP/2.0"
#: pyVoIP reads its socket 8192 bytes at a time: a longer datagram would reach it cut short.
PYVOIP_MAX_DATAGRAM = 8192
#: The requests pyVoIP's own code handles (pyVoIP.SIPCompatibleMethods in 1.6.8, but CANCEL,
#: which the phone answers itself).
PYVOIP_METHODS = frozenset({"INVITE", "ACK", "BYE"})
#: What a bot's phone accepts, in the order a softphone lists them.
ALLOWED_METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS")
#: SIP methods a bot's phone knows but does not accept (RFC 3261, 3262, 3265, 3311, 3428,
#: 3515, 3903, 6086): refused with 405 Method Not Allowed. Any other method gets 501.
REFUSED_METHODS = frozenset(
    {"REGISTER", "INFO", "NOTIFY", "SUBSCRIBE", "MESSAGE", "UPDATE", "PRACK", "REFER", "PUBLISH"}
)
#: RFC 3261 7.3.3 compact header names, and the full names they stand for.
COMPACT_NAMES = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
}
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~")


@dataclass(frozen=True)
class Identity:
    """Who answers: the bot's account as its replies show it."""

    username: str
    address: str
    port: int
    user_agent: str


@dataclass(frozen=True)
class Forward:
    """Give the datagram to pyVoIP unchanged."""


@dataclass(frozen=True)
class Reply:
    """Answer the request here and do not tell pyVoIP about it."""

    method: str
    status: int
    datagram: bytes
    to: tuple[str, int]


@dataclass(frozen=True)
class Drop:
    """Nothing to answer and nothing pyVoIP could use."""

    reason: str


@dataclass(frozen=True)
class Cancel:
    """A CANCEL of the INVITE with ``call_id`` (RFC 3261 9.2): if the phone still rings,
    it stops and sends ``ok`` (200 to the CANCEL) then ``terminated`` (487 to the INVITE);
    if it answered already, ``ok`` alone; if it never had that INVITE, ``unknown`` (481)."""

    call_id: str
    ok: Reply
    terminated: Reply
    unknown: Reply


Verdict = Forward | Reply | Drop | Cancel


@dataclass(frozen=True)
class Request:
    """A SIP request's start line and headers (names lower-cased and expanded), in order."""

    method: str
    uri: str
    version: str
    headers: tuple[tuple[str, str], ...]

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    def first(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None


def triage(
    datagram: bytes,
    source: tuple[str, int],
    me: Identity,
    pyvoip_parses: Callable[[bytes], bool],
) -> Verdict:
    """What to do with ``datagram``, received from ``source``.

    ``pyvoip_parses`` says whether pyVoIP's own parser accepts a datagram (it is tried
    only on what would be forwarded).
    """
    head = _head(datagram)
    if head is None:
        return Drop("not SIP (keep-alive or noise)")
    start = head[0]
    too_long = len(datagram) > PYVOIP_MAX_DATAGRAM
    if start.startswith(SIP_VERSION + " "):
        if too_long:
            return Drop(f"a response longer than {PYVOIP_MAX_DATAGRAM} bytes")
        if pyvoip_parses(datagram):
            return Forward()
        return Drop(f"a response pyVoIP cannot parse: {start[:60]}")
    request = parse_request(head)
    if request is None:
        return Drop(f"not a SIP request: {start[:60]!r}")
    if request.first("via") is None:
        return Drop(f"{request.method} without Via: nowhere to answer")
    if request.method == "ACK":  # never answered: pyVoIP ignores them all
        if not too_long and pyvoip_parses(datagram):
            return Forward()
        return Drop("an ACK pyVoIP cannot parse")
    if too_long:
        return _reply(request, source, me, 513, "Message Too Large")
    if request.version != SIP_VERSION:
        return _reply(request, source, me, 505, "Version Not Supported")
    missing = [h for h in ("from", "to", "call-id", "cseq") if request.first(h) is None]
    if missing:
        return _reply(request, source, me, 400, f"Missing {', '.join(missing)}")
    if request.method == "CANCEL":
        return _cancel(request, source, me)
    if request.method in PYVOIP_METHODS:
        if pyvoip_parses(datagram):
            return Forward()
        return _reply(request, source, me, 400, "Bad Request")
    if request.method == "OPTIONS":
        return _reply(request, source, me, 200, "OK")
    if request.method in REFUSED_METHODS:
        return _reply(request, source, me, 405, "Method Not Allowed")
    return _reply(request, source, me, 501, "Not Implemented")


def _cancel(request: Request, source: tuple[str, int], me: Identity) -> Cancel:
    """The replies to a CANCEL: its Via, From, To, Call-ID and CSeq number are the
    INVITE's (RFC 3261 9.1), so the INVITE's 487 is made from it too."""
    number = (request.first("cseq") or "").split(" ", 1)[0]
    invite = Request(
        "INVITE",
        request.uri,
        request.version,
        tuple((k, f"{number} INVITE" if k == "cseq" else v) for k, v in request.headers),
    )
    return Cancel(
        request.first("call-id") or "",
        _reply(request, source, me, 200, "OK"),
        _reply(invite, source, me, 487, "Request Terminated"),
        _reply(request, source, me, 481, "Call/Transaction Does Not Exist"),
    )


def call_id_of(datagram: bytes) -> str | None:
    """The Call-ID of an INVITE request (None for anything else)."""
    if not datagram.startswith(b"INVITE "):
        return None
    head = _head(datagram)
    request = None if head is None else parse_request(head)
    return None if request is None else request.first("call-id")


def parse_request(head: list[str]) -> Request | None:
    """The request in a message's head lines (start line first), or None if it is not one."""
    parts = head[0].split(" ")
    if len(parts) != 3 or not parts[0] or not set(parts[0]) <= _TOKEN_CHARS:
        return None
    method, uri, version = parts
    if not version.startswith("SIP/"):
        return None
    headers: list[tuple[str, str]] = []
    for line in head[1:]:
        if line[:1] in (" ", "\t") and headers:  # a folded continuation line
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon:
            return None
        key = name.strip().lower()
        headers.append((COMPACT_NAMES.get(key, key), value.strip()))
    return Request(method, uri, version, tuple(headers))


def response_to(
    request: Request, source: tuple[str, int], me: Identity, status: int, reason: str
) -> bytes:
    """A response to ``request`` (RFC 3261 8.2.6): its Vias (the top one stamped with where
    it really came from), From, Call-ID and CSeq as they were, To with a tag added."""
    vias = request.all("via")
    lines = [f"{SIP_VERSION} {status} {reason}"]
    lines += [f"Via: {_stamped(vias[0], source)}"] + [f"Via: {via}" for via in vias[1:]]
    lines.append(f"From: {request.first('from')}")
    to = request.first("to") or ""
    if _tag(to) is None:
        to = f"{to};tag={_local_tag(request, me)}"
    lines.append(f"To: {to}")
    lines.append(f"Call-ID: {request.first('call-id')}")
    lines.append(f"CSeq: {request.first('cseq')}")
    if 200 <= status < 300:
        lines.append(f"Contact: <sip:{me.username}@{_host_port(me.address, me.port)}>")
    lines.append(f"Allow: {', '.join(ALLOWED_METHODS)}")
    if status == 200 and request.method == "OPTIONS":
        # RFC 3261 11.2: what the phone would accept in an INVITE. It supports no
        # extension (no 100rel, timer, replaces...), hence an empty Supported.
        lines += [
            "Accept: application/sdp",
            "Accept-Encoding: identity",
            "Accept-Language: en",
            "Supported: ",
        ]
    lines.append(f"User-Agent: {me.user_agent}")
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _reply(
    request: Request, source: tuple[str, int], me: Identity, status: int, reason: str
) -> Reply:
    datagram = response_to(request, source, me, status, reason)
    return Reply(request.method, status, datagram, _destination(request, source))


def _head(datagram: bytes) -> list[str] | None:
    """The start line and header lines, or None if this cannot be a SIP message."""
    end = datagram.find(b"\r\n\r\n")
    head = datagram if end < 0 else datagram[:end]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.split("\r\n")
    if not lines[0].strip():
        return None
    return lines


def _top_via(via_header: str) -> str:
    """The first Via in a header line (several may be combined with commas)."""
    return via_header.split(",", 1)[0].strip()


def _via_params(via: str) -> tuple[str, dict[str, str | None]]:
    """``SIP/2.0/UDP host:port;rport;branch=x`` as (``host:port``, its parameters)."""
    protocol_and_sent_by, *params = (part.strip() for part in via.split(";"))
    sent_by = protocol_and_sent_by.split(None, 1)[-1].strip()
    parsed: dict[str, str | None] = {}
    for param in params:
        key, equals, value = param.partition("=")
        parsed[key.strip().lower()] = value.strip() if equals else None
    return sent_by, parsed


def _split_host_port(sent_by: str) -> tuple[str, int | None]:
    if sent_by.startswith("["):  # [IPv6]:port
        host, _, rest = sent_by[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, _, port = sent_by.partition(":")
    return host, int(port) if port.isdigit() else None


def _stamped(via_header: str, source: tuple[str, int]) -> str:
    """The Via header with its top Via given ``received`` and ``rport`` (RFC 3261 18.2.1,
    RFC 3581 4), so the response can find its way back through NAT."""
    top = _top_via(via_header)
    rest = via_header[len(via_header.split(",", 1)[0]) :]
    sent_by, params = _via_params(top)
    host, _ = _split_host_port(sent_by)
    parts = [part.strip() for part in top.split(";")]
    stamped = [parts[0]]
    for part in parts[1:]:
        key = part.partition("=")[0].strip().lower()
        if key == "rport":
            stamped.append(f"rport={source[1]}")
        elif key != "received":
            stamped.append(part)
    if host != source[0] or "rport" in params:
        stamped.append(f"received={source[0]}")
    return ";".join(stamped) + rest


def _destination(request: Request, source: tuple[str, int]) -> tuple[str, int]:
    """Where a response over UDP goes (RFC 3261 18.2.2, RFC 3581 4): back to the source
    address, at the source port if the sender asked for ``rport``, else at its Via port."""
    sent_by, params = _via_params(_top_via(request.all("via")[0]))
    if "rport" in params:
        return source
    _, port = _split_host_port(sent_by)
    return source[0], port if port is not None else 5060


def _tag(name_addr: str) -> str | None:
    for param in name_addr.rpartition(">")[2].split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "tag":
            return value.strip()
    return None


def _local_tag(request: Request, me: Identity) -> str:
    return dialog_tag(
        request.first("call-id") or "", _tag(request.first("from") or "") or "", me.username
    )


def dialog_tag(call_id: str, from_tag: str, username: str) -> str:
    """The To tag of our answers: the same for every retransmission of one request, and
    for every answer to one INVITE (180, 200, and the 487 after its CANCEL)."""
    seed = "|".join((call_id, from_tag, username))
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def with_to_tag(message: str, tag: str) -> str:
    """``message`` (a request pyVoIP wrote) with its To header's tag set to ``tag``."""
    if not tag:
        return message
    head, separator, body = message.partition("\r\n\r\n")
    lines = head.split("\r\n")
    for index, line in enumerate(lines):
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() in ("to", "t"):
            address = value.strip().split(";tag=")[0]
            lines[index] = f"To: {address};tag={tag}"
    return "\r\n".join(lines) + separator + body

"""FastAGI wire codec, both directions, no I/O.

Service side (what hotline reads from Asterisk): `EnvironmentDecoder` for the `agi_*: value`
block, `ResponseDecoder` for replies (`200 result=...`, 510, 511, the multi-line 520 usage block,
GOSUB's provisional `100 ... Trying...` and the asynchronous `HANGUP` line), `encode_command`.
Emulator side (Asterisk's view): `CommandDecoder`, `split_command` (Asterisk's own argument
splitting), and encoders that reproduce Asterisk's bytes exactly.

Text policy: bytes from Asterisk are decoded as UTF-8 with U+FFFD replacement, because a caller
name from a SIP header can be Latin-1 and must not drop the call; replacement keeps every later
consumer (logs, database, JSON) safe, where surrogateescape would move the crash downstream.
Commands (our own output, and what the emulator reads from us) must be strict UTF-8: anything
else is an `AgiProtocolError`. A decoder that raised is broken: discard it with its connection.
Every AGI command name and channel variable hotline uses is named here, once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, overload
from urllib.parse import parse_qsl

# -- AGI commands (Asterisk 20 res_agi names) ---------------------------------------------
ANSWER: Final = "ANSWER"
CHANNEL_STATUS: Final = "CHANNEL STATUS"
CONTROL_STREAM_FILE: Final = "CONTROL STREAM FILE"
DATABASE_DEL: Final = "DATABASE DEL"
DATABASE_DELTREE: Final = "DATABASE DELTREE"
DATABASE_GET: Final = "DATABASE GET"
DATABASE_PUT: Final = "DATABASE PUT"
EXEC: Final = "EXEC"
GET_DATA: Final = "GET DATA"
GET_FULL_VARIABLE: Final = "GET FULL VARIABLE"
GET_OPTION: Final = "GET OPTION"
GET_VARIABLE: Final = "GET VARIABLE"
GOSUB: Final = "GOSUB"
HANGUP: Final = "HANGUP"
NOOP: Final = "NOOP"
RECEIVE_CHAR: Final = "RECEIVE CHAR"
RECORD_FILE: Final = "RECORD FILE"
SAY_ALPHA: Final = "SAY ALPHA"
SAY_DATE: Final = "SAY DATE"
SAY_DATETIME: Final = "SAY DATETIME"
SAY_DIGITS: Final = "SAY DIGITS"
SAY_NUMBER: Final = "SAY NUMBER"
SAY_PHONETIC: Final = "SAY PHONETIC"
SAY_TIME: Final = "SAY TIME"
SEND_TEXT: Final = "SEND TEXT"
SET_AUTOHANGUP: Final = "SET AUTOHANGUP"
SET_CALLERID: Final = "SET CALLERID"
SET_CONTEXT: Final = "SET CONTEXT"
SET_EXTENSION: Final = "SET EXTENSION"
SET_MUSIC: Final = "SET MUSIC"
SET_PRIORITY: Final = "SET PRIORITY"
SET_VARIABLE: Final = "SET VARIABLE"
STREAM_FILE: Final = "STREAM FILE"
TDD_MODE: Final = "TDD MODE"
VERBOSE: Final = "VERBOSE"
WAIT_FOR_DIGIT: Final = "WAIT FOR DIGIT"

COMMANDS: Final = (
    *(ANSWER, CHANNEL_STATUS, CONTROL_STREAM_FILE, DATABASE_DEL, DATABASE_DELTREE, DATABASE_GET),
    *(DATABASE_PUT, EXEC, GET_DATA, GET_FULL_VARIABLE, GET_OPTION, GET_VARIABLE, GOSUB, HANGUP),
    *(NOOP, RECEIVE_CHAR, RECORD_FILE, SAY_ALPHA, SAY_DATE, SAY_DATETIME, SAY_DIGITS, SAY_NUMBER),
    *(SAY_PHONETIC, SAY_TIME, SEND_TEXT, SET_AUTOHANGUP, SET_CALLERID, SET_CONTEXT, SET_EXTENSION),
    *(SET_MUSIC, SET_PRIORITY, SET_VARIABLE, STREAM_FILE, TDD_MODE, VERBOSE, WAIT_FOR_DIGIT),
)
# Commands Asterisk still runs after the hangup ("dead mode"); the rest get 511.
DEAD_MODE_COMMANDS: Final = frozenset(
    {GET_VARIABLE, GET_FULL_VARIABLE, SET_VARIABLE, VERBOSE, NOOP, EXEC}
    | {DATABASE_DEL, DATABASE_DELTREE, DATABASE_GET, DATABASE_PUT}
)
# Argument index (after the command words) holding escape digits: always sent quoted.
ESCAPE_DIGITS_ARG: Final[Mapping[str, int]] = MappingProxyType(
    {STREAM_FILE: 1, CONTROL_STREAM_FILE: 1, GET_OPTION: 1, RECORD_FILE: 2}
    | {c: 1 for c in (SAY_ALPHA, SAY_DATE, SAY_DATETIME, SAY_DIGITS, SAY_NUMBER, SAY_PHONETIC)}
    | {SAY_TIME: 1}
)

# -- dialplan applications and channel variables ------------------------------------------
APP_DIAL: Final = "Dial"
APP_PLAYBACK: Final = "Playback"
APP_BACKGROUND: Final = "Background"
APP_MUSIC_ON_HOLD: Final = "MusicOnHold"
APP_START_MUSIC_ON_HOLD: Final = "StartMusicOnHold"
APP_STOP_MUSIC_ON_HOLD: Final = "StopMusicOnHold"
APP_MIXMONITOR: Final = "MixMonitor"
VAR_DIALSTATUS: Final = "DIALSTATUS"
VAR_ANSWEREDTIME: Final = "ANSWEREDTIME"
VAR_ANSWEREDTIME_MS: Final = "ANSWEREDTIME_MS"
VAR_DIALEDTIME: Final = "DIALEDTIME"
VAR_DIALEDTIME_MS: Final = "DIALEDTIME_MS"
VAR_HANGUPCAUSE: Final = "HANGUPCAUSE"
VAR_DIALEDPEERNAME: Final = "DIALEDPEERNAME"
VAR_DIALEDPEERNUMBER: Final = "DIALEDPEERNUMBER"
#: Who ended the channel: the channel's own name when its far end hung up (or an AMI
#: Hangup), ``dialplan/...`` for the dialplan, empty when Asterisk ended it itself (a
#: restart or shutdown): measured on Asterisk 20 (tests/asterisk/test_restart.py).
EXPR_HANGUP_SOURCE: Final = "${CHANNEL(hangupsource)}"

# -- fixed replies (Asterisk's exact bytes) -------------------------------------------------
INVALID_COMMAND: Final = b"510 Invalid or unknown command\n"
DEAD_CHANNEL: Final = b"511 Command Not Permitted on a dead channel or intercept routine\n"
HANGUP_LINE: Final = b"HANGUP\n"
GOSUB_TRYING: Final = b"100 result=0 Trying...\n"
USAGE_HEADER: Final = "Invalid command syntax.  Proper usage follows:"
USAGE_TRAILER: Final = "End of proper usage."

MAX_ARGS: Final = 128  # res_agi's argv size; Asterisk keeps MAX_ARGS - 1 words
_NAME_RE: Final = re.compile(r"[A-Za-z]+(?: [A-Za-z]+)*")
_FORBIDDEN_RE: Final = re.compile(r"[\n\r\0]")
_NEEDS_QUOTES_RE: Final = re.compile(r'[ \t"\\]')
_KNOWN_NAMES: Final = frozenset(COMMANDS)
_RESULT_RE: Final = re.compile(
    r"result=(?P<result>\S*)(?: \((?P<data>.*)\))?"
    r"(?: endpos=(?P<endpos>-?\d+))?(?: (?P<extra>.*))?",
    re.DOTALL,
)


class AgiProtocolError(ValueError):
    """Malformed, oversized or undecodable AGI input (or an unencodable command)."""


class Hangup:
    """The asynchronous `HANGUP` line: Asterisk saw the channel hang up."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Hangup()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hangup)

    def __hash__(self) -> int:
        return hash(Hangup)


class _Field:
    """A read-only `agi_*` variable of `AgiEnvironment` ("" when Asterisk did not send it)."""

    def __init__(self, key: str) -> None:
        self.key = key

    @overload
    def __get__(self, env: None, owner: type) -> _Field: ...
    @overload
    def __get__(self, env: AgiEnvironment, owner: type) -> str: ...
    def __get__(self, env: AgiEnvironment | None, owner: type) -> _Field | str:
        return self if env is None else env.variables.get(self.key, "")


@dataclass(frozen=True)
class AgiEnvironment:
    """The `agi_*` block Asterisk sends on connect; keys as sent (e.g. `agi_channel`)."""

    variables: Mapping[str, str]

    def get(self, key: str, default: str = "") -> str:
        return self.variables.get(key, default)

    @property
    def script(self) -> str:
        """The route: the agi:// URL path without query string and surrounding slashes."""
        raw = self.variables.get("agi_network_script")
        if raw is None:  # not a network AGI, or a stripped block: derive it from agi_request
            request = self.request
            raw = request.split("://", 1)[1].partition("/")[2] if "://" in request else request
        return raw.partition("?")[0].strip("/")

    @property
    def query(self) -> dict[str, str]:
        """Parameters of the agi:// URL's query string (`agi://host/hotline?lang=de`)."""
        raw = self.variables.get("agi_network_script", self.request)
        return dict(parse_qsl(raw.partition("?")[2]))

    request = _Field("agi_request")
    channel = _Field("agi_channel")
    uniqueid = _Field("agi_uniqueid")
    language = _Field("agi_language")
    caller_id = _Field("agi_callerid")
    caller_id_name = _Field("agi_calleridname")
    dnid = _Field("agi_dnid")
    context = _Field("agi_context")
    extension = _Field("agi_extension")
    priority = _Field("agi_priority")

    @property
    def args(self) -> tuple[str, ...]:
        """`agi_arg_1..N` in order (the AGI() arguments after the URL), up to the first gap."""
        out: list[str] = []
        while (value := self.variables.get(f"agi_arg_{len(out) + 1}")) is not None:
            out.append(value)
        return tuple(out)


@dataclass(frozen=True)
class AgiResponse:
    """One complete reply to one command."""

    code: int  # 200, 510, 511, 520
    result: str  # text after `result=` ("" for 510/511/520 and a GET DATA timeout)
    data: str | None = None  # text inside (...) if any
    endpos: int | None = None
    extra: str = ""  # rest of the line ("Gosub complete"; the message of 510/511/520)
    usage: tuple[str, ...] = ()  # the lines of a 520 usage block
    provisional: str | None = None  # a preceding `100 ...` line's text (GOSUB), if any

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result)
        except ValueError:
            return None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


class _LineSplitter:
    """Splits a byte stream on `\\n` with a cap on the length of one line. After a line over
    the cap it reads on at the next line (the rest of the long one is dropped as it comes)."""

    def __init__(self, max_line: int) -> None:
        self._buf = b""
        self._max_line = max_line
        self._skipping = False

    def lines(self, data: bytes) -> list[bytes]:
        if self._skipping:
            end = data.find(b"\n")
            if end < 0:
                return []
            data, self._skipping = data[end + 1 :], False
        parts = (self._buf + data if self._buf else data).split(b"\n")
        self._buf = parts.pop()
        if len(self._buf) > self._max_line:
            self._buf, self._skipping = b"", True
            raise AgiProtocolError(f"AGI line longer than {self._max_line} bytes")
        if max(map(len, parts), default=0) > self._max_line:
            raise AgiProtocolError(f"AGI line longer than {self._max_line} bytes")
        return parts

    @property
    def pending(self) -> bytes:
        return self._buf

    @property
    def busy(self) -> bool:
        """Part of a line is buffered, or the rest of a line over the cap is being dropped."""
        return self._skipping or bool(self._buf)


class EnvironmentDecoder:
    """Service side: reads the `key: value` block up to the blank line."""

    def __init__(self, max_bytes: int = 16384, max_line: int = 2048) -> None:
        self._max_bytes = max_bytes
        self._max_line = max_line
        self._buf = bytearray()
        self._done = False
        self.rest = b""

    def feed(self, data: bytes) -> AgiEnvironment | None:
        """Returns the environment once the blank line arrived, else None."""
        if self._done:
            raise AgiProtocolError("environment block already complete")
        self._buf += data
        end = self._buf.find(b"\n\n")
        if self._buf.startswith(b"\n"):
            end = -1  # an empty block: the blank line is the first byte
        elif end < 0:
            if len(self._buf) > self._max_bytes:
                raise AgiProtocolError(f"AGI environment larger than {self._max_bytes} bytes")
            longest = max(len(s) for s in self._buf.split(b"\n"))
            if longest > self._max_line:
                raise AgiProtocolError(f"AGI environment line longer than {self._max_line} bytes")
            return None
        if end + 2 > self._max_bytes:
            raise AgiProtocolError(f"AGI environment larger than {self._max_bytes} bytes")
        block = bytes(self._buf[: end + 1])
        self.rest = bytes(self._buf[end + 2 :])
        self._done = True
        self._buf.clear()
        return AgiEnvironment(MappingProxyType(_parse_environment(block, self._max_line)))


def _parse_environment(block: bytes, max_line: int) -> dict[str, str]:
    variables: dict[str, str] = {}
    for raw in block.split(b"\n")[:-1] if block else []:
        if len(raw) > max_line:
            raise AgiProtocolError(f"AGI environment line longer than {max_line} bytes")
        line = _text(raw.removesuffix(b"\r"))
        key, sep, value = line.partition(":")
        if not sep or not key or key != key.strip() or " " in key:
            raise AgiProtocolError(f"malformed AGI environment line {line[:80]!r}")
        if key in variables:
            raise AgiProtocolError(f"duplicate AGI environment key {key[:80]!r}")
        variables[key] = value.removeprefix(" ")
    return variables


def encode_environment(pairs: Sequence[tuple[str, str]]) -> bytes:
    """Asterisk's environment block: `key: value\\n` per pair (empty values keep the space)."""
    lines = []
    for key, value in pairs:
        if not key or any(c in key for c in ": \n\r") or "\n" in value:
            raise AgiProtocolError(f"cannot encode AGI environment pair {key!r}")
        lines.append(f"{key}: {value}\n")
    return ("".join(lines) + "\n").encode("utf-8")


class ResponseDecoder:
    """Service side: replies, 520 usage blocks and `HANGUP` markers, in arrival order."""

    def __init__(self, max_line: int = 8192, max_usage_lines: int = 200) -> None:
        self._lines = _LineSplitter(max_line)
        self._max_usage_lines = max_usage_lines
        self._usage: list[str] | None = None  # inside a 520- block
        self._usage_head = ""
        self._provisional: str | None = None

    def feed(self, data: bytes) -> list[AgiResponse | Hangup]:
        lines = self._lines  # the usual read: one whole frequent reply, alone, between replies
        if not lines.busy and self._usage is None and self._provisional is None:
            common = _COMMON_LINES.get(data)  # (each key is one line)
            if common is not None:
                return [common]
        out: list[AgiResponse | Hangup] = []
        for raw in self._lines.lines(data):
            common = _COMMON_REPLIES.get(raw) if self.idle_between_lines else None
            if common is not None:
                out.append(common)
            elif (item := self._line(_text(raw))) is not None:
                out.append(item)
        return out

    @property
    def idle_between_lines(self) -> bool:
        return self._usage is None and self._provisional is None

    def resync(self) -> None:
        """After a protocol error: forget the reply being read (a usage block, a 100)."""
        self._usage, self._provisional = None, None

    def _line(self, line: str) -> AgiResponse | Hangup | None:
        if self._usage is not None:
            if line.startswith("520 "):
                usage, self._usage = tuple(self._usage), None
                return self._finish(AgiResponse(520, "", extra=self._usage_head, usage=usage))
            if len(self._usage) >= self._max_usage_lines:
                raise AgiProtocolError(f"520 usage block longer than {self._max_usage_lines} lines")
            self._usage.append(line)
            return None
        if line == "HANGUP":
            return Hangup()
        code_text, sep, rest = line[:3], line[3:4], line[4:]
        if not (code_text.isdigit() and code_text.isascii() and sep in (" ", "-")):
            raise AgiProtocolError(f"malformed AGI reply {line[:80]!r}")
        code = int(code_text)
        if sep == "-":
            if code != 520:
                raise AgiProtocolError(f"unexpected continuation line {line[:80]!r}")
            self._usage, self._usage_head = [], rest
            return None
        if code == 100:
            if self._provisional is not None:
                raise AgiProtocolError("two provisional AGI replies in a row")
            self._provisional = rest
            return None
        if code != 200:
            return self._finish(AgiResponse(code, "", extra=rest))
        m = _RESULT_RE.fullmatch(rest)
        if m is None:
            raise AgiProtocolError(f"AGI 200 reply without result= {line[:80]!r}")
        endpos = m["endpos"]
        return self._finish(
            AgiResponse(
                200,
                m["result"],
                data=m["data"],
                endpos=int(endpos) if endpos is not None else None,
                extra=m["extra"] or "",
            )
        )

    def _finish(self, response: AgiResponse) -> AgiResponse:
        if self._provisional is None:
            return response
        text, self._provisional = self._provisional, None
        return AgiResponse(
            response.code, response.result, response.data, response.endpos,
            response.extra, response.usage, provisional=text,
        )  # fmt: skip

    @property
    def idle(self) -> bool:
        """True when no reply is partly received (nothing buffered, no open block)."""
        return not self._lines.pending and self.idle_between_lines


# Replies are immutable, so the most frequent lines decode to shared instances (a fast path).
def _common_replies() -> dict[bytes, AgiResponse | Hangup]:
    replies: dict[bytes, AgiResponse | Hangup] = {b"HANGUP": Hangup()}
    for n in (-2, -1, 0, 1):
        replies[f"200 result={n}".encode()] = AgiResponse(200, str(n))
    replies[b"200 result= (timeout)"] = AgiResponse(200, "", data="timeout")
    for line in (INVALID_COMMAND, DEAD_CHANNEL):
        replies[line.rstrip(b"\n")] = AgiResponse(int(line[:3]), "", extra=line[4:-1].decode())
    return replies


_COMMON_REPLIES: Final = MappingProxyType(_common_replies())
#: The same, keyed by the whole line with its "\n" (a plain dict: the quickest lookup).
_COMMON_LINES: Final = {line + b"\n": reply for line, reply in _COMMON_REPLIES.items()}


def encode_response(
    result: int | str, *, data: str | None = None, endpos: int | None = None, extra: str = ""
) -> bytes:
    """`200 result=N (data) endpos=N extra\\n`, in Asterisk's order."""
    parts = [f"200 result={result}"]
    if data is not None:
        parts.append(f"({data})")
    if endpos is not None:
        parts.append(f"endpos={endpos}")
    if extra:
        parts.append(extra)
    text = " ".join(parts)
    if "\n" in text:
        raise AgiProtocolError("AGI reply must be one line")
    return (text + "\n").encode("utf-8")


def encode_usage(usage_lines: Sequence[str]) -> bytes:
    """The `520-...` usage block Asterisk sends for a command with bad syntax."""
    if any("\n" in line or line.startswith("520 ") for line in usage_lines):
        raise AgiProtocolError("usage line would end the block early")
    body = "".join(f"{line}\n" for line in usage_lines)
    return f"520-{USAGE_HEADER}\n{body}520 {USAGE_TRAILER}\n".encode()


def encode_reply(item: AgiResponse | Hangup) -> bytes:
    """Any decoded item back to bytes (the inverse of `ResponseDecoder` on Asterisk's output)."""
    if isinstance(item, Hangup):
        return HANGUP_LINE
    head = f"100 {item.provisional}\n".encode() if item.provisional is not None else b""
    if item.code == 200:
        body = encode_response(item.result, data=item.data, endpos=item.endpos, extra=item.extra)
    elif item.code == 520 and (item.usage or item.extra == USAGE_HEADER):
        body = encode_usage(item.usage)
    else:
        body = f"{item.code} {item.extra}\n".encode()
    return head + body


def _quote(word: str, force: bool) -> str:
    if not force and word and not _NEEDS_QUOTES_RE.search(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_command(*words: str | int) -> bytes:
    """One command line. The first word is the command name (`"STREAM FILE"`), sent as is;
    arguments are quoted when Asterisk's parser needs it (spaces, tabs, quotes, backslashes,
    empty) and escape digits are always quoted, as Asterisk's documentation shows them.

    An IVR sends the same few lines over and over (its prompts, its variables): the last
    few thousand are remembered (by value and type: ``1`` and ``True`` are not one key)."""
    return _encode_command(*words)


@functools.lru_cache(maxsize=4096, typed=True)
def _encode_command(*words: str | int) -> bytes:
    name = words[0] if words else None
    if not isinstance(name, str) or (name not in _KNOWN_NAMES and not _NAME_RE.fullmatch(name)):
        raise AgiProtocolError(f"bad AGI command name {words[:1]!r}")
    escape_at = ESCAPE_DIGITS_ARG.get(name if name in _KNOWN_NAMES else name.upper())
    out = [name]
    for i, word in enumerate(words[1:]):
        out.append(_quote(word if isinstance(word, str) else str(word), force=i == escape_at))
    if len(out) + name.count(" ") >= MAX_ARGS:
        raise AgiProtocolError(f"more than {MAX_ARGS - 1} AGI words")
    line = " ".join(out)
    if _FORBIDDEN_RE.search(line):
        raise AgiProtocolError(f"AGI argument with a line break or NUL: {line[:80]!r}")
    try:
        return (line + "\n").encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AgiProtocolError(f"AGI command is not encodable as UTF-8: {exc}") from None


# -- emulator side --------------------------------------------------------------------------


class CommandDecoder:
    """Asterisk's side: the service's byte stream as command lines (without the `\\n`).

    Asterisk reads lines into a 2048-byte buffer; longer ones are refused here. A `\\r` before
    the `\\n` stays in the line, as in Asterisk."""

    def __init__(self, max_line: int = 2048) -> None:
        self._lines = _LineSplitter(max_line)

    def feed(self, data: bytes) -> list[str]:
        try:
            return [raw.decode("utf-8") for raw in self._lines.lines(data)]
        except UnicodeDecodeError as exc:
            raise AgiProtocolError(f"AGI command is not UTF-8: {exc}") from None


def split_command(line: str) -> list[str]:
    """Asterisk's `parse_args`: spaces/tabs split, `"` groups, backslash escapes any character.

    A quote in mid-word toggles grouping without starting a word; a trailing `\\r` is kept; words
    past `MAX_ARGS - 1` are dropped, as Asterisk does."""
    words: list[str] = []
    cur: list[str] = []
    quoted = escaped = False
    in_word = False
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and not in_word and len(words) < MAX_ARGS - 1:
                in_word, cur = True, []
                words.append("")
            continue
        if ch in " \t" and not quoted and not escaped:
            if in_word:
                words[-1] = "".join(cur)
            in_word = False
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if not in_word:
            if len(words) >= MAX_ARGS - 1:
                continue  # Asterisk: "Too many arguments, truncating"
            in_word, cur = True, []
            words.append("")
        cur.append(ch)
        escaped = False
    if in_word:
        words[-1] = "".join(cur)
    return words


def parse_command(words: Sequence[str]) -> tuple[str | None, list[str]]:
    """Matches the leading words case-insensitively against `COMMANDS`.

    Returns (canonical name, arguments), or (None, words) for an unknown command."""
    upper = [w.upper() for w in words]
    for name in COMMANDS:
        parts = name.split(" ")
        if upper[: len(parts)] == parts:
            return name, list(words[len(parts) :])
    return None, list(words)

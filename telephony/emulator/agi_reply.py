"""What an AGI command handler returns, and the context it runs in."""

from __future__ import annotations

from dataclasses import dataclass

from telephony import agi_codec as agi
from telephony.emulator.channel import Channel
from telephony.emulator.contexts import Contexts
from telephony.emulator.pbx import Pbx
from telephony.emulator.usage import usage

TAIL_DELAY_V = 0.043  # Asterisk sends the rest of a 520 block, and Gosub's 200, ~43 ms later


@dataclass(frozen=True)
class Reply:
    """Bytes for the service; `tail` follows after TAIL_DELAY_V. `code`/`outcome` feed the
    AMI AGIExecEnd event (ResultCode / Result)."""

    data: bytes
    code: int = 200
    outcome: str = "Success"
    tail: bytes = b""


@dataclass
class AgiContext:
    pbx: Pbx
    ch: Channel
    contexts: Contexts
    dead: bool = False


def ok(
    result: int | str,
    *,
    data: str | None = None,
    endpos: int | None = None,
    extra: str = "",
    failed: bool = False,
) -> Reply:
    return Reply(
        agi.encode_response(result, data=data, endpos=endpos, extra=extra),
        outcome="Failure" if failed else "Success",
    )


def show_usage(command: str) -> Reply:
    block = agi.encode_usage(usage(command))
    first = block.index(b"\n") + 1
    return Reply(block[:first], code=520, outcome="Usage", tail=block[first:])


INVALID = Reply(agi.INVALID_COMMAND, code=510, outcome="Invalid or unknown command")
DEAD = Reply(
    agi.DEAD_CHANNEL,
    code=511,
    outcome="Command Not Permitted on a dead channel or intercept routine",
)


def parse_int(text: str) -> int | None:
    """C's sscanf("%d"): leading sign and digits, the rest ignored; None if no digits."""
    s = text.strip()
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    digits = ""
    for c in s:
        if not c.isdigit():
            break
        digits += c
    return sign * int(digits) if digits else None

"""Channel variables, the builtins and functions Asterisk evaluates, and `${...}` expansion."""

from __future__ import annotations

import re
from typing import Final

from telephony import ami_codec as ami
from telephony.emulator.channel import Channel
from telephony.emulator.pbx import Pbx

_FUNCTION: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\((.*)\)", re.DOTALL)
_CALLERID: Final = re.compile(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*')
MAX_DEPTH: Final = 10
#: CHANNEL(hangupsource) by who hung the channel up (Asterisk 20: the channel's own name for
#: its far end's BYE or an AMI Hangup; nothing when Asterisk shuts down or restarts).
_HANGUP_SOURCE: Final[dict[str, str]] = {
    "": "",  # not hung up yet, or ended by a timeout
    "shutdown": "",
    "agi": "dialplan/agi",
    "dialplan": "dialplan/builtin",
}


def format_callerid(name: str, num: str) -> str:
    return f'"{name}" <{num}>'


def parse_callerid(text: str) -> tuple[str, str]:
    """`"Name" <number>` or a bare number (ast_callerid_parse, simplified): (name, number)."""
    m = _CALLERID.fullmatch(text)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    stripped = text.strip()
    if stripped and all(c.isdigit() or c in "+*#" for c in stripped):
        return "", stripped
    return stripped, ""


def _builtin(ch: Channel, name: str) -> str | None:
    return {
        "CHANNEL": ch.name,
        "UNIQUEID": ch.uniqueid,
        "LINKEDID": ch.linkedid,
        "CONTEXT": ch.context,
        "EXTEN": ch.exten,
        "PRIORITY": str(ch.priority),
        "HANGUPCAUSE": str(ch.hangupcause),
        "LANGUAGE": ch.language,
        "ACCOUNTCODE": ch.accountcode,
        "CALLERIDNUM": ch.caller_num,
        "CALLERIDNAME": ch.caller_name,
    }.get(name)


def _function(pbx: Pbx, ch: Channel | None, func: str, arg: str) -> str | None:
    func = func.upper()
    if func == "LEN":
        return str(len(arg))
    if func == "DB":
        family, _, key = arg.partition("/")
        return pbx.astdb.get((family, key), "")
    if func == ami.FUNCTION_PJSIP_DIAL_CONTACTS:  # chan_pjsip: a dummy channel will do
        return pbx.book.dial_contacts(arg.strip())
    if ch is None:
        return None
    part = arg.strip().lower()
    if func == "CALLERID":
        return {
            "num": ch.caller_num,
            "number": ch.caller_num,
            "name": ch.caller_name,
            "all": format_callerid(ch.caller_name, ch.caller_num),
            "dnid": ch.dnid,
        }.get(part)
    if func == "CDR" and part.replace(" ", "") == "start,u":  # raw: epoch.microseconds
        return f"{ch.created_epoch:.6f}"
    if func == "CONNECTEDLINE":
        return {"num": ch.connected_num, "name": ch.connected_name}.get(part)
    if func == "CHANNEL":
        return {
            "name": ch.name,
            "language": ch.language,
            "uniqueid": ch.uniqueid,
            "linkedid": ch.linkedid,
            "state": "Up" if ch.up else "Ring",
            "hangupsource": _HANGUP_SOURCE.get(ch.log.hung_up_by, ch.name),
        }.get(part)
    return None


def get_var(pbx: Pbx, ch: Channel | None, name: str) -> str | None:
    """A variable or function value; None when unset (GET VARIABLE answers `result=0`)."""
    m = _FUNCTION.fullmatch(name)
    if m:
        return _function(pbx, ch, m.group(1), substitute(pbx, ch, m.group(2)))
    if ch is not None:
        if name in ch.variables:
            return ch.variables[name]
        builtin = _builtin(ch, name)
        if builtin is not None:
            return builtin
    return pbx.globals.get(name)


def substitute(pbx: Pbx, ch: Channel | None, text: str, depth: int = 0) -> str:
    """Expands `${VAR}` and `${FUNC(args)}` (nested), unset ones to ""; `$[...]` is left as is."""
    if "${" not in text or depth > MAX_DEPTH:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        start = text.find("${", i)
        if start < 0:
            out.append(text[i:])
            break
        out.append(text[i:start])
        level, j = 1, start + 2
        while j < len(text) and level:
            if text.startswith("${", j):
                level += 1
                j += 2
                continue
            if text[j] == "}":
                level -= 1
            j += 1
        if level:  # unbalanced: Asterisk keeps the text
            out.append(text[start:])
            break
        inner = substitute(pbx, ch, text[start + 2 : j - 1], depth + 1)
        out.append(get_var(pbx, ch, inner) or "")
        i = j
    return "".join(out)

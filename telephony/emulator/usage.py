"""The usage text Asterisk 20 prints in a 520 block (res_agi's XML docs, flattened).

The first entries were recorded verbatim (agi_errors.jsonl); the others follow res_agi's docs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from telephony import agi_codec as agi

_R: Final = "<replaceable>"
_RE: Final = "</replaceable>"
_DIGIT_RESULT: Final = (
    "Returns <literal>0</literal> if playback completes without a digit being pressed, or the "
    "ASCII numerical value of the digit if one was pressed or <literal>-1</literal> on "
    "error/hangup."
)

USAGE: Final[Mapping[str, tuple[str, ...]]] = {
    agi.STREAM_FILE: (
        "Send the given file, allowing playback to be interrupted by the given digits, if any. "
        "Returns <literal>0</literal> if playback completes without a digit being pressed, or "
        "the ASCII numerical value of the digit if one was pressed, or <literal>-1</literal> on "
        "error or if the channel was disconnected. If musiconhold is playing before calling "
        "stream file it will be automatically stopped and will not be restarted after "
        "completion.",
        "It sets the following channel variables upon completion:",
        "<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt as a text string.",
        "    <value>SUCCESS</value>",
        "    <value>FAILED</value>",
    ),
    agi.SAY_NUMBER: (
        "Say a given number, returning early if any of the given DTMF digits are received on "
        "the channel.  " + _DIGIT_RESULT,
    ),
    agi.GET_DATA: (
        f"Stream the given {_R}file{_RE}, and receive DTMF data.",
        "Returns the digits received from the channel at the other end.",
    ),
    agi.EXEC: (
        f"Executes {_R}application{_RE} with given {_R}options{_RE}.",
        f"Returns whatever the {_R}application{_RE} returns, or <literal>-2</literal> on failure "
        f"to find {_R}application{_RE}.",
        "<note>NOTE:</note> exec does not evaluate dialplan functions and variables unless it "
        "is explicitly enabled by setting the <variable>AGIEXECFULL</variable> variable to "
        "<literal>yes</literal>.",
    ),
    agi.WAIT_FOR_DIGIT: (
        f"Waits up to {_R}timeout{_RE} milliseconds for channel to receive a DTMF digit. Returns "
        "<literal>-1</literal> on channel failure, <literal>0</literal> if no digit is received "
        "in the timeout, or the numerical value of the ascii of the digit if one is received. "
        f"Use <literal>-1</literal> for the {_R}timeout{_RE} value if you desire the call to "
        "block indefinitely.",
    ),
    agi.HANGUP: (
        "Hangs up the specified channel. If no channel name is given, hangs up the current channel",
    ),
    agi.SAY_DIGITS: (
        "Say a given digit string, returning early if any of the given DTMF digits are "
        "received on the channel. " + _DIGIT_RESULT,
    ),
    agi.SAY_ALPHA: (
        "Say a given character string, returning early if any of the given DTMF digits are "
        "received on the channel. " + _DIGIT_RESULT,
    ),
    agi.GET_OPTION: ("Behaves similar to STREAM FILE but used with a timeout option.",),
    agi.GET_VARIABLE: (
        f"Returns <literal>0</literal> if {_R}variablename{_RE} is not set. Returns "
        f"<literal>1</literal> if {_R}variablename{_RE} is set and returns the variable in "
        "parentheses.",
        "Example return code: 200 result=1 (testvariable)",
    ),
    agi.GET_FULL_VARIABLE: (
        f"Evaluates the given {_R}expression{_RE} against the channel specified by "
        f"{_R}channelname{_RE}, or the current channel if {_R}channelname{_RE} is not provided.",
    ),
    agi.SET_VARIABLE: ("Sets a variable to the current channel.",),
    agi.SET_CONTEXT: ("Sets the context for continuation upon exiting the application.",),
    agi.SET_EXTENSION: ("Changes the extension for continuation upon exiting the application.",),
    agi.SET_PRIORITY: (
        "Changes the priority for continuation upon exiting the application. The priority "
        "must be a valid priority or label.",
    ),
    agi.SET_AUTOHANGUP: (
        f"Cause the channel to automatically hangup at {_R}time{_RE} seconds in the future. Of "
        "course it can be hungup before then as well. Setting to <literal>0</literal> will "
        "cause the autohangup feature to be disabled on this channel.",
    ),
    agi.SET_MUSIC: (
        f"Enables/Disables the music on hold generator. If {_R}class{_RE} is not specified, then "
        "the <literal>default</literal> music on hold class will be used. This generator will "
        "be stopped automatically when playing a file.",
        "Always returns <literal>0</literal>.",
    ),
    agi.VERBOSE: (
        f"Sends {_R}message{_RE} to the console via verbose message system. {_R}level{_RE} is "
        "the verbose level (1-4). Always returns <literal>1</literal>",
    ),
    agi.RECORD_FILE: (
        "Record to a file until a given dtmf digit in the sequence is received. Returns "
        "<literal>-1</literal> on hangup or error.  The format will specify what kind of file "
        f"will be recorded. The {_R}timeout{_RE} is the maximum record time in milliseconds, or "
        f"<literal>-1</literal> for no {_R}timeout{_RE}. {_R}offset samples{_RE} is optional, "
        "and, if provided, will seek to the offset without exceeding the end of the file. "
        f"{_R}beep{_RE} can take any value, and causes Asterisk to play a beep to the channel "
        f"that is about to be recorded. {_R}silence{_RE} is the number of seconds of silence "
        "allowed before the function returns despite the lack of dtmf digits or reaching "
        f"{_R}timeout{_RE}. {_R}silence{_RE} value must be preceded by <literal>s=</literal> "
        "and is also optional.",
    ),
    agi.CHANNEL_STATUS: (
        f"Returns the status of the specified {_R}channelname{_RE}. If no channel name is given "
        "then returns the status of the current channel.",
    ),
    agi.GOSUB: (
        "Cause the channel to execute the specified dialplan subroutine, returning to the "
        "dialplan with execution of a Return().",
    ),
    agi.CONTROL_STREAM_FILE: (
        "Send the given file, allowing playback to be controlled by the given digits, if any. "
        "Use double quotes for the digits if you wish none to be permitted. " + _DIGIT_RESULT,
    ),
}


def usage(command: str) -> tuple[str, ...]:
    return USAGE.get(command, (f"Usage: {command}",))

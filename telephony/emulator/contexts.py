"""The emulator's dialplan, as data: the lab's `hotline` context plus the fallback queue.

`hotline,100` is the production-like path (NoOp, Answer, AGI, then the fallback jump when the
FastAGI server is unreachable, like the docker dialplan); 101 has no Answer(), 102 passes AGI
arguments, 110 is the lab's redirect target, 111 the Originate target. Any other extension in
`hotline` runs the 100 steps. Every extension of the fallback context runs its `s` steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

Step = tuple[str, str]  # (application, data with ${...} expanded at run time)
HOTLINE: Final = "hotline"
AGI_URL_VAR: Final = "__HOTLINE_AGI_URL"  # set on each caller channel by the emulator
HANGUP_EXTEN: Final = "h"


@dataclass(frozen=True)
class Contexts:
    fallback: str
    queue: str
    queue_timeout_s: float

    def steps(self, context: str, exten: str) -> list[Step] | None:
        if context == self.fallback:
            if exten == HANGUP_EXTEN:
                return None
            return [
                ("NoOp", "Hotline fallback for ${CALLERID(num)}"),
                ("Answer", ""),
                ("Queue", f"{self.queue},,,,{self.queue_timeout_s:g}"),
                ("Hangup", ""),
            ]
        if context == "sub-lab" and exten == "s":
            return [("NoOp", "sub-lab"), ("Set", "SUBVAR=set in sub"), ("Return", "sub-ok")]
        if context != HOTLINE:
            return None
        agi = ("AGI", "${" + AGI_URL_VAR + "}")
        after_agi = [
            ("GotoIf", f'$["${{AGISTATUS}}" = "FAILURE"]?{self.fallback},s,1'),
            ("NoOp", "AGI done ${AGISTATUS}"),
            ("Hangup", ""),
        ]
        cid = ("NoOp", 'Hotline call from "${CALLERID(name)}" <${CALLERID(num)}>')
        if exten == "101":
            return [cid, agi, *after_agi]
        if exten == "102":
            return [
                cid,
                ("Answer", ""),
                ("AGI", "${" + AGI_URL_VAR + "},first arg,second"),
                ("Hangup", ""),
            ]
        if exten == "110":
            return [
                ("NoOp", "Redirected ${CHANNEL}"),
                ("Playback", "hello-world"),
                ("Wait", "3"),
                ("Hangup", ""),
            ]
        if exten == "111":
            return [
                ("NoOp", "Originated call ${CHANNEL}"),
                ("Playback", "hello-world"),
                ("Hangup", ""),
            ]
        if exten == HANGUP_EXTEN:
            return [("NoOp", "hangup handler: cause ${HANGUPCAUSE}")]
        return [cid, ("Answer", ""), agi, *after_agi]

    def exists(self, context: str, exten: str, priority: int) -> bool:
        steps = self.steps(context, exten)
        return steps is not None and 1 <= priority <= len(steps)

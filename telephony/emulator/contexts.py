"""The emulator's dialplan, as data: the lab's `hotline` context plus the fallback queue.

`hotline,100` is the production-like path (NoOp, Answer, AGI, then the fallback jump when
hotline did not end the session on purpose (`HOTLINE_DONE` unset), like the docker
dialplan); 101 has no Answer(), 102 passes AGI arguments, 110 is the lab's redirect target,
111 the Originate target; `h` runs AGI(...,ended-before-service) for a caller gone before
AGI() ran, as the docker dialplan does. Any other extension in `hotline` runs the 100
steps. Every extension of the fallback context runs its `s` steps. Every extension of the
callback context (hotline-callback, as in the deployment) is a customer's number, dialled
over the trunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from telephony.agi_server import DONE_VARIABLE, ENDED_BEFORE_SERVICE

Step = tuple[str, str]  # (application, data with ${...} expanded at run time)
HOTLINE: Final = "hotline"
AGI_URL_VAR: Final = "__HOTLINE_AGI_URL"  # set on each caller channel by the emulator
HANGUP_EXTEN: Final = "h"
AGISTATUS: Final = "AGISTATUS"
#: The callback context's channel variables, as docker/asterisk/extensions.conf reads them.
CALLBACK_CALLERID_VAR: Final = "HOTLINE_CALLBACK_CALLERID"
CALLBACK_RING_VAR: Final = "HOTLINE_CALLBACK_RING_S"
CALLBACK_ID_VAR: Final = "HOTLINE_CALLBACK"


@dataclass(frozen=True)
class Contexts:
    fallback: str
    queue: str
    queue_timeout_s: float
    callback: str = "hotline-callback"
    trunk: str = "PJSIP/trunk"

    def steps(self, context: str, exten: str) -> list[Step] | None:
        if context == self.callback:
            return None if exten == HANGUP_EXTEN else self.callback_steps()
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
            # as docker/asterisk/extensions.conf: a session hotline did not end on purpose
            # (unreachable, killed, dropped by its watchdog) goes to the fallback
            ("GotoIf", f'$["${{{DONE_VARIABLE}}}" != "1"]?{self.fallback},s,1'),
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
            # as docker/asterisk/extensions.conf's h: a caller gone before AGI() ran
            # (AGISTATUS unset) is told to hotline by a session on the hung-up channel. A
            # served call's h is one step (the jump past the end), as in the lab's recording.
            return [
                ("GotoIf", f'$["${{{AGISTATUS}}}" != ""]?{HOTLINE},{HANGUP_EXTEN},3'),
                ("AGI", "${" + AGI_URL_VAR + "}," + ENDED_BEFORE_SERVICE),
            ]
        return [cid, ("Answer", ""), agi, *after_agi]

    def callback_steps(self) -> list[Step]:
        """The agent answered an Originate into the callback context (exten = the customer's
        number): show the business's caller ID and dial the customer over the trunk."""
        tech, _, trunk = self.trunk.partition("/")
        return [
            ("NoOp", "Callback ${" + CALLBACK_ID_VAR + "} to ${EXTEN}"),
            ("Set", "CALLERID(all)=${" + CALLBACK_CALLERID_VAR + "}"),
            ("Dial", f"{tech}/${{EXTEN}}@{trunk},${{{CALLBACK_RING_VAR}}}"),
            ("Hangup", ""),
        ]

    def exists(self, context: str, exten: str, priority: int) -> bool:
        steps = self.steps(context, exten)
        return steps is not None and 1 <= priority <= len(steps)

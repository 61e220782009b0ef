"""The agent bot: registers as an agent's softphone, answers every offered call after a
ring, talks for a while (a tone, so the caller's recording shows it was bridged), and
hangs up, like an agent on a desk phone."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from pyVoIP.VoIP import CallState, VoIPCall

from telephony.bots.audio import dtmf, silence
from telephony.bots.phone import Account, play, registered
from telephony.bots.sip_front_door import BotPhone

log = logging.getLogger(__name__)

__all__ = ["AgentBot"]


@dataclass
class AgentBot:
    account: Account
    ring_s: float = 1.0
    talk_s: float = 5.0
    answered: int = 0
    hung_up_by_caller: int = 0
    #: Calls cancelled while ringing (the caller gave up, or the ring timeout): not answered
    cancelled: int = 0
    _phone: BotPhone | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._phone = registered(self.account, self._on_call)

    def stop(self) -> None:
        if self._phone is not None:
            self._phone.stop()
            self._phone = None

    def options_answered(self) -> int:
        """How many OPTIONS (Asterisk's qualify) the running phone has answered 200 OK."""
        return 0 if self._phone is None else self._phone.answered_count("OPTIONS")

    def _on_call(self, call: VoIPCall) -> None:
        """pyVoIP runs this in its own thread for each incoming INVITE."""
        time.sleep(self.ring_s)
        phone = self._phone
        try:
            answered = phone is not None and phone.answer(call)
        except Exception:  # pyVoIP's thread boundary: a refused answer ends this call only
            log.exception("%s: could not answer", self.account.username)
            return
        if not answered:
            with self._lock:
                self.cancelled += 1
            log.info("%s: the call was cancelled before it was answered", self.account.username)
            return
        with self._lock:
            self.answered += 1
        heard = bytearray()
        # "Hello" as a short burst of tones, then silence for the rest of the talk time.
        play(call, dtmf("5") + silence(max(self.talk_s - 0.24, 0.0)), heard)
        if call.state == CallState.ANSWERED:
            call.hangup()
        else:
            with self._lock:
                self.hung_up_by_caller += 1

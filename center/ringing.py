"""The inbound call's ring: Dial the chosen agent from the caller's AGI session, and what
its outcome means (the ``ring`` of the gateway's ``center.offer_loop``).

``Dial`` returns when the agent's phone gave up (no answer, busy, unreachable) or, after an
answer, when the conversation ended. The outcome becomes agent facts (a failed ring's is
returned as ``PhoneFailed``: the offer loop tells the ACD and holds the phone off):

========================  =====================================================
DIALSTATUS                agent fact (the call)
========================  =====================================================
ANSWER                    ``Answered`` then ``HungUp`` (wrap-up); AMI usually told
                          the answer already, and then only ``HungUp`` is new
NOANSWER                  ``RingNoAnswer`` (paused per agents.yaml; the call goes
                          back in line, its place kept)
BUSY                      ``Busy``
CHANUNAVAIL, CONGESTION,  ``Unreachable``
anything else
CANCEL / caller gone      the caller hung up while the phone rang: ``CallerHangup``
========================  =====================================================
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final

from acd.agent_events import Answered, Busy, HungUp, RingNoAnswer, Unreachable
from acd.offer import Offer
from center.offer_loop import PhoneFailed
from center.service import AcdService
from center.telephony_facts import FailedOffer
from telephony.agi_session import AgiSession, CallerHangup, DialOutcome

log = logging.getLogger(__name__)

__all__ = ["Rang", "ring_agent"]

# DIALSTATUS values (Asterisk's Dial application)
DIAL_ANSWER: Final = "ANSWER"
DIAL_NOANSWER: Final = "NOANSWER"
DIAL_BUSY: Final = "BUSY"
DIAL_CANCEL: Final = "CANCEL"


@dataclass(frozen=True, slots=True)
class Rang:
    """The agent answered; Dial returned when the conversation ended."""

    offer: Offer
    #: (Its ``answered_ms``, Asterisk's ANSWEREDTIME, is the caller channel's up-time, IVR
    #: and wait included: talk time is measured from the ACD's answer instead.)
    outcome: DialOutcome
    #: AMI told the agent's answer as it happened. False: the ACD learnt it only when Dial
    #: returned, after the conversation, so when the conversation began is unknown.
    answer_seen: bool = True


async def ring_agent(
    session: AgiSession,
    service: AcdService,
    offer: Offer,
    endpoint: str,
    *,
    ring_timeout_s: float,
    options: str = "",
) -> Rang | PhoneFailed:
    """Dial ``endpoint`` for ``offer``; raises ``CallerHangup`` if the caller left meanwhile."""
    agent_id, call_id = offer.agent_id, offer.call_id
    channel = session.env.channel
    with service.dialing(channel, offer):
        outcome = await session.dial(endpoint, max(1, math.ceil(ring_timeout_s)), options)
    status = outcome.status
    if status == DIAL_ANSWER:
        learnt_now = service.fact(Answered(agent_id, call_id, outcome.peer_name))
        service.fact(HungUp(agent_id, call_id))
        return Rang(offer, outcome, answer_seen=not learnt_now)
    if status == DIAL_CANCEL or not outcome.caller_alive:
        raise CallerHangup("caller hung up while the agent's phone rang")
    failed: FailedOffer
    if status == DIAL_NOANSWER:
        failed = RingNoAnswer(agent_id, call_id)
    elif status == DIAL_BUSY:
        failed = Busy(agent_id, call_id)
    else:
        failed = Unreachable(agent_id, call_id)
    log.info("call %s: agent %s's phone %s: %s", call_id, agent_id, endpoint, status or "?")
    return PhoneFailed(failed)

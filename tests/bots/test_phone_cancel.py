"""A call cancelled while the agent bot's phone rings (the caller gave up, or Asterisk's
ring timeout): the phone answers the CANCEL 200, ends the INVITE with 487 and never
answers the call, as a desk phone does. pyVoIP alone answered the CANCEL and then picked
the dead call up. Real UDP on 127.0.0.1 against tests/bots/sip_peer.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from telephony.bots.agent import AgentBot

from .sip_peer import SipPeer, SipText
from .test_phone_answers_options import AGENT, Dialog, account, address, until


@pytest.fixture
def peer() -> Iterator[SipPeer]:
    running = SipPeer()
    yield running
    running.close()


@pytest.fixture
def agent(peer: SipPeer) -> Iterator[AgentBot]:
    bot = AgentBot(account(peer, AGENT), ring_s=1.0, talk_s=60.0)
    bot.start()
    yield bot
    bot.stop()


def cancel(call: Dialog) -> str:
    """The CANCEL of the dialog's INVITE (same branch, Call-ID, From, CSeq number); its
    text as sent."""
    lines = [
        f"CANCEL sip:{AGENT}@{call.bot[0]}:{call.bot[1]} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{call.peer.port};rport;branch={call.branch}",
        f"From: <sip:{AGENT}@127.0.0.1>;tag={call.from_tag}",
        f"To: <sip:{AGENT}@{call.bot[0]}:{call.bot[1]}>",
        f"Call-ID: {call.call_id}",
        "CSeq: 1 CANCEL",
        "Max-Forwards: 70",
        "Content-Length: 0",
    ]
    text = "\r\n".join(lines) + "\r\n\r\n"
    call.peer.send(text, call.bot)
    return text


def final(peer: SipPeer, call: Dialog, method: str) -> SipText:
    return peer.expect(
        lambda m: m.is_response and m.status >= 200 and m.method == method and call.ours(m)
    )


def test_a_call_cancelled_while_ringing_gets_487_and_is_never_answered(
    peer: SipPeer, agent: AgentBot
) -> None:
    call = Dialog(peer, address(agent))
    ringing = call.ringing()
    cancel(call)

    ok = final(peer, call, "CANCEL")
    terminated = final(peer, call, "INVITE")
    assert (ok.start, ok.header("CSeq")) == ("SIP/2.0 200 OK", "1 CANCEL")
    assert (terminated.start, terminated.header("CSeq")) == (
        "SIP/2.0 487 Request Terminated",
        "1 INVITE",
    )
    assert call.branch in terminated.header("Via")
    # one early dialog: the 180, the CANCEL's 200 and the 487 carry the same To tag
    assert ringing.header("To") == ok.header("To") == terminated.header("To")

    assert until(lambda: agent.cancelled == 1)  # the bot's ring time is over: it did not answer
    assert agent.answered == 0
    later = peer.nothing_more(0.0)
    assert not [m for m in later if m.is_response and m.method == "INVITE"]

    # and the phone takes the next call as usual
    again = Dialog(peer, address(agent))
    again.ringing()
    again.answered()
    assert until(lambda: agent.answered == 1)


def test_a_cancel_after_the_answer_is_answered_alone_and_one_for_no_call_gets_481(
    peer: SipPeer, agent: AgentBot
) -> None:
    call = Dialog(peer, address(agent))
    call.ringing()
    call.answered()
    assert until(lambda: agent.answered == 1)
    cancel(call)  # crossed the 200 OK: too late, the call goes on (RFC 3261 9.2)
    assert final(peer, call, "CANCEL").start == "SIP/2.0 200 OK"
    assert call.in_dialog("OPTIONS", 2).status == 200

    stray = Dialog.__new__(Dialog)
    stray.peer, stray.bot = peer, address(agent)
    stray.call_id, stray.from_tag, stray.branch = "no-such-call@127.0.0.1", "x", "z9hG4bKstray"
    cancel(stray)
    assert final(peer, stray, "CANCEL").start == "SIP/2.0 481 Call/Transaction Does Not Exist"
    assert agent.cancelled == 0

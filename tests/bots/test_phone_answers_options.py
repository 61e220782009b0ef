"""A bot's phone answers Asterisk's qualify OPTIONS and refuses what it does not handle,
idle, ringing, in a call and while it dials, and keeps working: real UDP on 127.0.0.1, the
real bots (pyVoIP underneath) against a SIP peer that registers them and sends them
requests (tests/bots/sip_peer.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from telephony.bots.agent import AgentBot
from telephony.bots.caller import CallerBot, Wait
from telephony.bots.phone import Account

from .sip_peer import SipPeer, SipText, free_rtp_port, free_udp_ports, sdp

AGENT = "agent1001"


@pytest.fixture
def peer() -> Iterator[SipPeer]:
    running = SipPeer()
    yield running
    running.close()


def account(peer: SipPeer, username: str) -> Account:
    (sip,) = free_udp_ports(1)
    rtp = free_rtp_port()
    return Account(
        "127.0.0.1", username, "secret", "127.0.0.1", sip, peer.port, rtp_low=rtp, rtp_high=rtp
    )


@pytest.fixture
def agent(peer: SipPeer) -> Iterator[AgentBot]:
    """An agent bot registered to the peer: rings 1.5 s, then talks until hung up."""
    bot = AgentBot(account(peer, AGENT), ring_s=1.5, talk_s=60.0)
    bot.start()
    yield bot
    bot.stop()


def address(bot: AgentBot) -> tuple[str, int]:
    return ("127.0.0.1", bot.account.sip_port)


def until(check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return check()


def options_answered(peer: SipPeer, bot: tuple[str, int], user: str) -> SipText:
    """Send an out-of-dialog OPTIONS as Asterisk's qualify does; the bot's reply."""
    _, branch = peer.request("OPTIONS", bot, user)
    reply = peer.reply_to(branch)
    assert reply.start == "SIP/2.0 200 OK"
    return reply


def refusals(peer: SipPeer, bot: tuple[str, int], user: str) -> dict[str, str]:
    """What the bot answers to requests pyVoIP does not know."""
    answers = {}
    for method in ("INFO", "NOTIFY", "MESSAGE", "FROBNICATE"):
        _, branch = peer.request(method, bot, user)
        reply = peer.reply_to(branch)
        assert "OPTIONS" in reply.header("Allow")
        answers[method] = reply.start
    return answers


REFUSED = {
    "INFO": "SIP/2.0 405 Method Not Allowed",
    "NOTIFY": "SIP/2.0 405 Method Not Allowed",
    "MESSAGE": "SIP/2.0 405 Method Not Allowed",
    "FROBNICATE": "SIP/2.0 501 Not Implemented",
}


class Dialog:
    """A call from the peer to an agent bot, as Asterisk offers one."""

    def __init__(self, peer: SipPeer, bot: tuple[str, int]) -> None:
        self.peer, self.bot = peer, bot
        self.call_id = f"call-{time.monotonic_ns()}@127.0.0.1"
        self.from_tag = "asterisk-tag"
        self.to_tag = ""
        _, self.branch = peer.request(
            "INVITE", bot, AGENT, call_id=self.call_id, from_tag=self.from_tag, cseq=1,
            body=sdp(peer.rtp_port),
        )  # fmt: skip

    def ringing(self) -> SipText:
        return self.peer.expect(lambda m: m.is_response and m.status == 180 and self.ours(m))

    def answered(self) -> SipText:
        ok = self.peer.expect(lambda m: m.is_response and m.status == 200 and self.ours(m))
        self.to_tag = ok.header("To").split(";tag=")[1]
        self.peer.request(
            "ACK", self.bot, AGENT, call_id=self.call_id, from_tag=self.from_tag,
            to_tag=self.to_tag, cseq=1,
        )  # fmt: skip
        return ok

    def in_dialog(self, method: str, cseq: int) -> SipText:
        _, branch = self.peer.request(
            method, self.bot, AGENT, call_id=self.call_id, from_tag=self.from_tag,
            to_tag=self.to_tag, cseq=cseq,
        )  # fmt: skip
        return self.peer.reply_to(branch)

    def ours(self, message: SipText) -> bool:
        return message.header("Call-ID") == self.call_id


def test_an_idle_phone_answers_options_as_a_softphone_does(peer: SipPeer, agent: AgentBot) -> None:
    bot = address(agent)
    _, branch = peer.request(
        "OPTIONS", bot, AGENT, call_id="qualify-1@127.0.0.1", from_tag="ast-7", cseq=7
    )
    reply = peer.reply_to(branch)

    assert reply.start == "SIP/2.0 200 OK"
    assert reply.source == bot  # from the phone's own SIP port
    assert reply.all("Via") == [
        f"SIP/2.0/UDP 127.0.0.1:{peer.port};rport={peer.port};branch={branch};received=127.0.0.1"
    ]
    assert reply.header("From") == "<sip:agent1001@127.0.0.1>;tag=ast-7"
    to, tag = reply.header("To").split(";tag=")
    assert to == f"<sip:agent1001@127.0.0.1:{bot[1]}>"
    assert tag
    assert reply.header("Call-ID") == "qualify-1@127.0.0.1"
    assert reply.header("CSeq") == "7 OPTIONS"
    assert reply.header("Contact") == f"<sip:agent1001@127.0.0.1:{bot[1]}>"
    assert reply.header("Allow").split(", ") == ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"]
    assert reply.header("Accept") == "application/sdp"
    assert reply.all("Supported") == [""]
    assert reply.header("Content-Length") == "0"
    assert agent.options_answered() == 1


def test_a_retransmitted_options_gets_the_same_answer(peer: SipPeer, agent: AgentBot) -> None:
    bot = address(agent)
    text, branch = peer.request("OPTIONS", bot, AGENT)
    first = peer.reply_to(branch)
    peer.send(text, bot)
    again = peer.reply_to(branch)
    assert again.headers == first.headers


def test_an_idle_phone_refuses_what_it_does_not_handle_and_still_takes_a_call(
    peer: SipPeer, agent: AgentBot
) -> None:
    bot = address(agent)
    assert refusals(peer, bot, AGENT) == REFUSED
    peer.send("\r\n\r\n", bot)  # a keep-alive
    peer.send("\x00\x01 not SIP at all", bot)
    options_answered(peer, bot, AGENT)

    call = Dialog(peer, bot)
    call.ringing()
    assert call.answered().body  # its SDP
    assert until(lambda: agent.answered == 1)  # counted on the phone's thread, after its 200 OK


def test_each_kind_of_refusal_is_logged_once(
    peer: SipPeer, agent: AgentBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="telephony.bots.sip_front_door")
    bot = address(agent)
    for _ in range(3):
        refusals(peer, bot, AGENT)
        options_answered(peer, bot, AGENT)
    told = [(r.levelno, r.getMessage()) for r in caplog.records]
    for method, status in (("INFO", 405), ("FROBNICATE", 501)):
        about = [level for level, text in told if f"answered {method} " in text]
        assert about == [logging.INFO, logging.DEBUG, logging.DEBUG], told
        assert any(f"with {status}" in text for _, text in told if method in text)
    assert not [text for _, text in told if "OPTIONS" in text]  # answering it is routine


def test_a_ringing_phone_answers_options_and_is_still_answered(
    peer: SipPeer, agent: AgentBot
) -> None:
    bot = address(agent)
    call = Dialog(peer, bot)
    call.ringing()  # the agent waits 1.5 s before answering
    options_answered(peer, bot, AGENT)
    assert refusals(peer, bot, AGENT) == REFUSED
    options_answered(peer, bot, AGENT)

    call.answered()
    assert until(lambda: agent.answered == 1)
    assert agent.options_answered() == 2


def test_a_phone_in_a_call_answers_options_and_the_call_goes_on_until_hung_up(
    peer: SipPeer, agent: AgentBot
) -> None:
    bot = address(agent)
    call = Dialog(peer, bot)
    call.ringing()
    call.answered()
    assert until(lambda: agent.answered == 1)

    options_answered(peer, bot, AGENT)  # Asterisk's qualify: outside the dialog
    in_dialog = call.in_dialog("OPTIONS", 2)  # a keep-alive within the call
    assert in_dialog.start == "SIP/2.0 200 OK"
    assert in_dialog.header("To").endswith(f";tag={call.to_tag}")  # the dialog's tag, kept
    assert refusals(peer, bot, AGENT) == REFUSED
    assert call.in_dialog("INFO", 3).start == "SIP/2.0 405 Method Not Allowed"
    assert agent.hung_up_by_caller == 0  # the call goes on

    assert call.in_dialog("BYE", 4).start == "SIP/2.0 200 OK"
    assert until(lambda: agent.hung_up_by_caller == 1)


def test_a_request_pyvoip_cannot_parse_is_refused_and_the_phone_keeps_working(
    peer: SipPeer, agent: AgentBot
) -> None:
    bot = address(agent)
    # An INVITE with a body but no Content-Type: pyVoIP's parser raises on it.
    text, branch = peer.request("INVITE", bot, AGENT, body=sdp(peer.rtp_port), send=False)
    peer.send(text.replace("Content-Type: application/sdp\r\n", ""), bot)
    assert peer.reply_to(branch).start == "SIP/2.0 400 Bad Request"
    assert agent.answered == 0

    options_answered(peer, bot, AGENT)
    call = Dialog(peer, bot)
    call.answered()
    assert until(lambda: agent.answered == 1)


def test_a_caller_dialling_while_options_arrive_gets_its_call_through(peer: SipPeer) -> None:
    caller = CallerBot(account(peer, "bot1"))
    with ThreadPoolExecutor(1) as pool:
        dialling = pool.submit(caller.call, "100", [Wait(1.0)], answer_timeout_s=15.0)
        invite = peer.expect(lambda m: not m.is_response and m.method == "INVITE")
        bot = invite.source
        # pyVoIP reads its socket inside phone.call() until the INVITE's first response:
        # an OPTIONS now used to raise SIPParseError out of it.
        options_answered(peer, bot, "bot1")
        peer.send(peer.response(invite, 100, "Trying"), bot)
        options_answered(peer, bot, "bot1")
        time.sleep(0.3)  # pyVoIP files the call only once phone.call() has returned
        peer.send(peer.response(invite, 180, "Ringing", to_tag="far-end"), bot)
        peer.send(peer.response(invite, 200, "OK", to_tag="far-end", body=sdp(peer.rtp_port)), bot)
        ack = peer.expect(lambda m: not m.is_response and m.method == "ACK")
        # the dialog's tag: with another, Asterisk matches no dialog and hangs up in 32 s
        assert ack.header("To").endswith(";tag=far-end")
        bye = peer.expect(lambda m: not m.is_response and m.method == "BYE", timeout_s=15.0)
        peer.send(peer.response(bye, 200, "OK"), bot)
        outcome = dialling.result(timeout=30)

    assert outcome.error is None
    assert outcome.answered
    assert not outcome.far_end_hung_up
    assert outcome.options_answered == 2

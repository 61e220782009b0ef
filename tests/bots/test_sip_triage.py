"""What a bot's phone does with each SIP datagram before pyVoIP sees it: answer OPTIONS,
refuse other methods, forward only what pyVoIP's own parser accepts (sip_triage.py)."""

from __future__ import annotations

import pytest

from telephony.bots.sip_front_door import pyvoip_parses
from telephony.bots.sip_triage import (
    Cancel,
    Drop,
    Forward,
    Identity,
    Reply,
    Verdict,
    call_id_of,
    dialog_tag,
    triage,
    with_to_tag,
)

ME = Identity("agent1001", "127.0.0.1", 5072, "hotline-bot (test)")
ASTERISK = ("127.0.0.1", 5060)


def message(start: str, *headers: str, body: str = "") -> bytes:
    head = "\r\n".join([start, *headers, f"Content-Length: {len(body)}"])
    return (head + "\r\n\r\n" + body).encode()


def options(
    *, via: str = "SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bKPj1", to: str = ""
) -> bytes:
    return message(
        "OPTIONS sip:agent1001@127.0.0.1:5072 SIP/2.0",
        f"Via: {via}",
        "From: <sip:agent1001@127.0.0.1>;tag=ast-1",
        f"To: {to or '<sip:agent1001@127.0.0.1:5072>'}",
        "Call-ID: q1@127.0.0.1",
        "CSeq: 42 OPTIONS",
        "Max-Forwards: 70",
    )


def judge(datagram: bytes, source: tuple[str, int] = ASTERISK) -> Verdict:
    return triage(datagram, source, ME, pyvoip_parses)


def reply(datagram: bytes, source: tuple[str, int] = ASTERISK) -> Reply:
    verdict = judge(datagram, source)
    assert isinstance(verdict, Reply), verdict
    return verdict


def lines(answer: Reply) -> list[str]:
    head, _, body = answer.datagram.decode().partition("\r\n\r\n")
    assert body == ""
    return head.split("\r\n")


def test_options_is_answered_200_with_what_a_softphone_sends() -> None:
    answer = reply(options())
    assert answer.status == 200
    assert answer.to == ASTERISK
    assert lines(answer) == [
        "SIP/2.0 200 OK",
        "Via: SIP/2.0/UDP 127.0.0.1:5060;rport=5060;branch=z9hG4bKPj1;received=127.0.0.1",
        "From: <sip:agent1001@127.0.0.1>;tag=ast-1",
        f"To: <sip:agent1001@127.0.0.1:5072>;tag={lines(answer)[3].split('tag=')[1]}",
        "Call-ID: q1@127.0.0.1",
        "CSeq: 42 OPTIONS",
        "Contact: <sip:agent1001@127.0.0.1:5072>",
        "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS",
        "Accept: application/sdp",
        "Accept-Encoding: identity",
        "Accept-Language: en",
        "Supported: ",
        "User-Agent: hotline-bot (test)",
        "Content-Length: 0",
    ]


def test_the_to_tag_is_the_same_for_a_retransmission_and_kept_within_a_dialog() -> None:
    assert reply(options()).datagram == reply(options()).datagram
    other_call = options().replace(b"Call-ID: q1@", b"Call-ID: q2@")
    assert reply(other_call).datagram != reply(options()).datagram
    in_dialog = reply(options(to="<sip:agent1001@127.0.0.1:5072>;tag=mine"))
    assert "To: <sip:agent1001@127.0.0.1:5072>;tag=mine" in lines(in_dialog)


def test_a_reply_goes_back_where_the_request_came_from_through_nat() -> None:
    # rport: the source address and port (RFC 3581), received= stamped
    natted = reply(options(), source=("198.51.100.7", 40123))
    assert natted.to == ("198.51.100.7", 40123)
    assert lines(natted)[1] == (
        "Via: SIP/2.0/UDP 127.0.0.1:5060;rport=40123;branch=z9hG4bKPj1;received=198.51.100.7"
    )
    # no rport: the source address at the Via's port (RFC 3261 18.2.2)
    plain = reply(
        options(via="SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK2"), source=("198.51.100.7", 40123)
    )
    assert plain.to == ("198.51.100.7", 5062)
    assert lines(plain)[1] == "Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK2;received=198.51.100.7"
    # same host, no rport: the Via untouched; no port: 5060
    direct = reply(options(via="SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK3"))
    assert direct.to == ("127.0.0.1", 5060)
    assert lines(direct)[1] == "Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK3"


def test_every_via_is_echoed_in_order() -> None:
    request = message(
        "OPTIONS sip:agent1001@127.0.0.1:5072 SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.9;branch=b",
        "Via: SIP/2.0/UDP 10.0.0.8:5080;branch=c",
        "From: <sip:x@127.0.0.1>;tag=1",
        "To: <sip:agent1001@127.0.0.1>",
        "Call-ID: v@x",
        "CSeq: 1 OPTIONS",
    )
    vias = [line for line in lines(reply(request)) if line.startswith("Via:")]
    assert vias == [
        "Via: SIP/2.0/UDP 127.0.0.1:5060;rport=5060;branch=z9hG4bKa;received=127.0.0.1"
        ", SIP/2.0/UDP 10.0.0.9;branch=b",
        "Via: SIP/2.0/UDP 10.0.0.8:5080;branch=c",
    ]


def test_compact_header_names_are_understood() -> None:
    request = message(
        "OPTIONS sip:agent1001@127.0.0.1:5072 SIP/2.0",
        "v: SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bKc",
        "f: <sip:x@127.0.0.1>;tag=1",
        "t: <sip:agent1001@127.0.0.1>",
        "i: compact@x",
        "CSeq: 3 OPTIONS",
    )
    answer = lines(reply(request))
    assert answer[0] == "SIP/2.0 200 OK"
    assert "Call-ID: compact@x" in answer
    assert "From: <sip:x@127.0.0.1>;tag=1" in answer


@pytest.mark.parametrize(
    ("method", "status"),
    [
        ("INFO", "405 Method Not Allowed"),
        ("NOTIFY", "405 Method Not Allowed"),
        ("SUBSCRIBE", "405 Method Not Allowed"),
        ("MESSAGE", "405 Method Not Allowed"),
        ("UPDATE", "405 Method Not Allowed"),
        ("REFER", "405 Method Not Allowed"),
        ("REGISTER", "405 Method Not Allowed"),
        ("FROBNICATE", "501 Not Implemented"),
    ],
)
def test_methods_pyvoip_does_not_handle_are_refused_with_what_is_allowed(
    method: str, status: str
) -> None:
    request = options().replace(b"OPTIONS", method.encode())
    answer = lines(reply(request))
    assert answer[0] == f"SIP/2.0 {status}"
    assert "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS" in answer
    assert f"CSeq: 42 {method}" in answer
    assert not any(line.startswith(("Contact:", "Accept:")) for line in answer)


def invite(*, content_type: bool = True) -> bytes:
    body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    body += "m=audio 10000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    headers = [
        "Via: SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bKi",
        "From: <sip:100@127.0.0.1>;tag=f",
        "To: <sip:agent1001@127.0.0.1>",
        "Contact: <sip:asterisk@127.0.0.1:5060>",
        "Call-ID: i@x",
        "CSeq: 1 INVITE",
    ]
    if content_type:
        headers.append("Content-Type: application/sdp")
    return message("INVITE sip:agent1001@127.0.0.1:5072 SIP/2.0", *headers, body=body)


def test_what_pyvoip_handles_goes_on_to_it_and_what_it_would_choke_on_does_not() -> None:
    assert judge(invite()) == Forward()
    refused = reply(invite(content_type=False))
    assert lines(refused)[0] == "SIP/2.0 400 Bad Request"
    ack = invite().replace(b"INVITE", b"ACK")
    assert judge(ack) == Forward()
    unparsable_ack = invite(content_type=False).replace(b"INVITE", b"ACK")
    assert isinstance(judge(unparsable_ack), Drop)  # an ACK is never answered

    response = message(
        "SIP/2.0 100 Trying",
        "Via: SIP/2.0/UDP 127.0.0.1:5072;branch=z9hG4bKo",
        "From: <sip:bot1@127.0.0.1>;tag=b",
        "To: <sip:100@127.0.0.1>",
        "Call-ID: o@x",
        "CSeq: 1 INVITE",
    )
    assert judge(response) == Forward()
    odd = response.replace(b"100 Trying", b"299 Brand New")  # a status unknown to pyVoIP
    assert isinstance(judge(odd), Drop)


def test_broken_requests_are_answered_when_they_can_be_and_dropped_when_not() -> None:
    assert lines(reply(options().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1)))[0] == (
        "SIP/2.0 505 Version Not Supported"
    )
    no_call_id = options().replace(b"Call-ID: q1@127.0.0.1\r\n", b"")
    assert lines(reply(no_call_id))[0] == "SIP/2.0 400 Missing call-id"
    no_via = options().replace(b"Via: SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bKPj1\r\n", b"")
    assert judge(no_via) == Drop("OPTIONS without Via: nowhere to answer")


def test_what_is_longer_than_pyvoip_reads_is_refused_not_cut_short() -> None:
    long_invite = invite().replace(b"Call-ID:", b"X-Padding: " + b"x" * 8200 + b"\r\nCall-ID:")
    assert lines(reply(long_invite))[0] == "SIP/2.0 513 Message Too Large"
    long_options = options().replace(b"Call-ID:", b"X-Padding: " + b"x" * 8200 + b"\r\nCall-ID:")
    assert lines(reply(long_options))[0] == "SIP/2.0 513 Message Too Large"


@pytest.mark.parametrize(
    "datagram", [b"\r\n\r\n", b"\x00\x00\x00\x00", b"\xff\xfe binary", b"hello there\r\n\r\n"]
)
def test_keep_alives_and_noise_are_dropped(datagram: bytes) -> None:
    assert isinstance(judge(datagram), Drop)


def test_an_ack_gets_the_dialog_s_to_tag() -> None:
    ack = (
        "ACK sip:1001@127.0.0.1 SIP/2.0\r\n"
        "To: <sip:1001@127.0.0.1>;tag=made-up\r\n"
        "From: <sip:bot1@127.0.0.1>;tag=mine\r\n"
        "CSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n"
    )
    fixed = with_to_tag(ack, "asterisk-tag")
    assert fixed == ack.replace("tag=made-up", "tag=asterisk-tag")
    assert with_to_tag(ack, "") == ack


def test_a_cancel_is_the_phones_with_a_487_for_its_invite() -> None:
    """pyVoIP would answer it 200 and leave the INVITE ringing (so the bot answered a dead
    call): the phone answers 200, then 487 to the INVITE, both with the INVITE's To tag."""
    cancel = message(
        "CANCEL sip:agent1001@127.0.0.1:5072 SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bKi",  # the INVITE's branch
        "From: <sip:100@127.0.0.1>;tag=f",
        "To: <sip:agent1001@127.0.0.1>",
        "Call-ID: i@x",
        "CSeq: 1 CANCEL",
        "Max-Forwards: 70",
    )
    verdict = judge(cancel)
    assert isinstance(verdict, Cancel), verdict
    assert verdict.call_id == "i@x" == call_id_of(invite())
    tag = dialog_tag("i@x", "f", ME.username)
    answers = {"ok": verdict.ok, "terminated": verdict.terminated, "unknown": verdict.unknown}
    expected = {
        "ok": ("SIP/2.0 200 OK", "1 CANCEL"),
        "terminated": ("SIP/2.0 487 Request Terminated", "1 INVITE"),
        "unknown": ("SIP/2.0 481 Call/Transaction Does Not Exist", "1 CANCEL"),
    }
    for name, answer in answers.items():
        head = lines(answer)
        assert (head[0], answer.to) == (expected[name][0], ASTERISK)
        assert f"CSeq: {expected[name][1]}" in head
        (via,) = [line for line in head if line.startswith("Via:")]
        assert ";branch=z9hG4bKi" in via  # the INVITE's transaction
        assert f"To: <sip:agent1001@127.0.0.1>;tag={tag}" in head
    assert call_id_of(cancel) is None  # only INVITEs are remembered

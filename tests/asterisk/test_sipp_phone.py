"""The SIPp phone the real-Asterisk tests use (``sipp/agent_phone.xml``) answers Asterisk's
qualify OPTIONS, a retransmitted one too: when Asterisk misses the first 200 OK and the
phone ignores the retransmission, the qualify times out and Asterisk marks the contact
Unreachable, so the next call to that phone fails (seen after ``core restart now``).

Only SIPp here, no Asterisk: this test plays Asterisk's side of one OPTIONS transaction."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from .rig import free_udp_port
from .sipp import SIPP, render

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.skipif(SIPP is None, reason="sipp is not installed (Debian sip-tester)"),
]


def options(phone_port: int, our_port: int, qualify: str) -> bytes:
    """One qualify OPTIONS as Asterisk 20 sends it (byte for byte the same when resent)."""
    return (
        f"OPTIONS sip:agent1001@127.0.0.1:{phone_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{our_port};rport;branch=z9hG4bKPj-{qualify}\r\n"
        f"From: <sip:agent1001@127.0.0.1>;tag={qualify}\r\n"
        "To: <sip:agent1001@127.0.0.1>\r\n"
        f"Contact: <sip:agent1001@127.0.0.1:{our_port}>\r\n"
        f"Call-ID: {qualify}\r\n"
        "CSeq: 35055 OPTIONS\r\n"
        "Max-Forwards: 70\r\n"
        "User-Agent: hotline-asterisk\r\n"
        "Content-Length:  0\r\n\r\n"
    ).encode()


@pytest.fixture
def asterisk_side() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


async def answer(sock: socket.socket, timeout_s: float) -> str | None:
    """The status line of the next message the phone sends, or None."""
    try:
        async with asyncio.timeout(timeout_s):
            data = await asyncio.get_running_loop().sock_recv(sock, 4096)
    except TimeoutError:
        return None
    return data.split(b"\r\n", 1)[0].decode()


async def test_the_phone_answers_a_retransmitted_qualify_with_the_same_200(
    tmp_path: Path, asterisk_side: socket.socket
) -> None:
    assert SIPP is not None
    scenario = render(
        "agent_phone.xml",
        tmp_path,
        "phone.xml",
        behaviour="answer",
        ring_ms=300,
        talk_ms=1000,
        after_answer="talk",
        hold_after_ms=0,
        hold_ms=0,
    )
    port = free_udp_port()
    phone = ("127.0.0.1", port)
    process = await asyncio.create_subprocess_exec(
        SIPP, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), "-nostdin",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    try:
        loop = asyncio.get_running_loop()
        ours = asterisk_side.getsockname()[1]
        for probe in range(50):  # until SIPp listens: a qualify of its own each time
            await loop.sock_sendto(asterisk_side, options(port, ours, f"probe-{probe}"), phone)
            if await answer(asterisk_side, 0.1) is not None:
                break
        await asyncio.sleep(0.2)
        while await answer(asterisk_side, 0.05) is not None:  # a late probe's answer
            pass
        request = options(port, ours, "qualify")
        await loop.sock_sendto(asterisk_side, request, phone)
        assert await answer(asterisk_side, 2.0) == "SIP/2.0 200 OK"
        # Asterisk missed that 200: it sends the same request again (at T1, then 2 x T1)
        for _ in range(2):
            await loop.sock_sendto(asterisk_side, request, phone)
            assert await answer(asterisk_side, 2.0) == "SIP/2.0 200 OK"
    finally:
        process.terminate()
        await process.wait()

"""The far end of a bot's phone over real UDP on 127.0.0.1: a registrar that accepts every
REGISTER (as Asterisk does once authenticated), and a hand with which a test sends requests
and responses to the bot and reads what the bot sends back, byte for byte.

It speaks plain RFC 3261 text, as Asterisk's PJSIP does; it knows nothing of pyVoIP.
"""

from __future__ import annotations

import queue
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SipPeer", "SipText", "free_rtp_port", "free_udp_ports", "sdp"]


def free_rtp_port() -> int:
    """A UDP port free on 127.0.0.1 below the kernel's ephemeral range (32768-), where
    no other socket on the machine is handed it meanwhile: pyVoIP binds it only once a
    call is answered, seconds after it is chosen."""
    for _ in range(200):
        port = random.randrange(10000, 20000)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free UDP port in 10000-19999")


def free_udp_ports(count: int) -> list[int]:
    """``count`` different UDP ports free on 127.0.0.1 (held together while chosen)."""
    probes = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@dataclass(frozen=True)
class SipText:
    """A SIP message as received: start line, headers (name as sent), body."""

    start: str
    headers: tuple[tuple[str, str], ...]
    body: str
    source: tuple[str, int]

    @classmethod
    def parse(cls, datagram: bytes, source: tuple[str, int]) -> SipText:
        head, _, body = datagram.decode().partition("\r\n\r\n")
        start, *lines = head.split("\r\n")
        headers = tuple(
            (name.strip(), value.strip())
            for name, _, value in (line.partition(":") for line in lines)
        )
        return cls(start, headers, body, source)

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def header(self, name: str) -> str:
        values = self.all(name)
        assert values, f"no {name} in {self.start!r}: {self.headers}"
        return values[0]

    @property
    def is_response(self) -> bool:
        return self.start.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        return int(self.start.split(" ")[1]) if self.is_response else 0

    @property
    def method(self) -> str:
        return self.header("CSeq").split(" ")[1] if self.is_response else self.start.split()[0]


def sdp(rtp_port: int) -> str:
    """An audio offer or answer as Asterisk writes it (PCMU, RFC 4733 events)."""
    return (
        "v=0\r\n"
        "o=- 1234 1234 IN IP4 127.0.0.1\r\n"
        "s=Asterisk\r\n"
        "c=IN IP4 127.0.0.1\r\n"
        "t=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP 0 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\n"
        "a=ptime:20\r\n"
        "a=sendrecv\r\n"
    )


class SipPeer:
    """Registrar and far end on 127.0.0.1: ``port`` is where the bot registers."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # where the bot's audio goes
        self.rtp.bind(("127.0.0.1", 0))
        self.rtp_port = int(self.rtp.getsockname()[1])
        self.registers = 0
        self._inbox: queue.Queue[SipText] = queue.Queue()
        self._cseq = 100
        self._running = True
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=5)  # its read times out every 0.1 s: no send after close
        self._sock.close()
        self.rtp.close()

    def _receive(self) -> None:
        self._sock.settimeout(0.1)
        while self._running:
            try:
                datagram, source = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            message = SipText.parse(datagram, (str(source[0]), int(source[1])))
            if not message.is_response and message.method == "REGISTER":
                self.registers += 1
                self.send(self.response(message, 200, "OK", extra=["Expires: 120"]), source)
            else:
                self._inbox.put(message)

    # -- sending ------------------------------------------------------------------------

    def send(self, text: str, to: tuple[str, int]) -> None:
        self._sock.sendto(text.encode(), to)

    def request(
        self,
        method: str,
        bot: tuple[str, int],
        user: str,
        *,
        call_id: str | None = None,
        from_tag: str | None = None,
        to_tag: str | None = None,
        cseq: int | None = None,
        body: str = "",
        extra: tuple[str, ...] = (),
        send: bool = True,
    ) -> tuple[str, str]:
        """Send ``method`` to the bot (unless not ``send``): (the request's text, its branch)."""
        self._cseq += 1
        branch = "z9hG4bKPj" + uuid.uuid4().hex
        to = f"<sip:{user}@{bot[0]}:{bot[1]}>" + (f";tag={to_tag}" if to_tag else "")
        lines = [
            f"{method} sip:{user}@{bot[0]}:{bot[1]} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};rport;branch={branch}",
            f"From: <sip:{user}@127.0.0.1>;tag={from_tag or uuid.uuid4().hex[:10]}",
            f"To: {to}",
            f"Contact: <sip:127.0.0.1:{self.port}>",
            f"Call-ID: {call_id or uuid.uuid4().hex}",
            f"CSeq: {cseq if cseq is not None else self._cseq} {method}",
            "Max-Forwards: 70",
            "User-Agent: sip-peer",
            *extra,
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        text = "\r\n".join(lines) + "\r\n\r\n" + body
        if send:
            self.send(text, bot)
        return text, branch

    def response(
        self,
        request: SipText,
        status: int,
        reason: str,
        *,
        to_tag: str | None = None,
        body: str = "",
        extra: list[str] | None = None,
    ) -> str:
        """The text of a response to ``request`` (one of the bot's)."""
        to = request.header("To")
        if to_tag and ";tag=" not in to:
            to += f";tag={to_tag}"
        lines = [f"SIP/2.0 {status} {reason}"]
        lines += [f"Via: {via}" for via in request.all("Via")]
        lines += [
            f"From: {request.header('From')}",
            f"To: {to}",
            f"Call-ID: {request.header('Call-ID')}",
            f"CSeq: {request.header('CSeq')}",
            f"Contact: <sip:127.0.0.1:{self.port}>",
            "Server: sip-peer",
            *(extra or []),
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + body

    # -- receiving ----------------------------------------------------------------------

    def expect(self, what: Callable[[SipText], bool], timeout_s: float = 10.0) -> SipText:
        """The next message from the bot for which ``what`` holds (others are skipped)."""
        deadline = time.monotonic() + timeout_s
        skipped = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self._inbox.get(timeout=left)
            except queue.Empty:
                break
            if what(message):
                return message
            skipped.append(message.start)
        raise AssertionError(f"nothing expected from the bot in {timeout_s} s; got {skipped}")

    def reply_to(self, branch: str, timeout_s: float = 10.0) -> SipText:
        """The bot's final response to the request sent with Via ``branch``."""
        return self.expect(
            lambda m: m.is_response and branch in m.header("Via") and m.status >= 200, timeout_s
        )

    def nothing_more(self, wait_s: float) -> list[SipText]:
        """Whatever else the bot sends within ``wait_s``."""
        time.sleep(wait_s)
        got = []
        while not self._inbox.empty():
            got.append(self._inbox.get())
        return got

"""A minimal SIP phone over TLS, for the real-Asterisk tests of ``transport-tls`` (this
machine's SIPp is built without OpenSSL: ``sipp -t l1`` refuses to start).

It does what an agent's softphone does over one TLS connection: REGISTER with digest
authentication, answer Asterisk's OPTIONS, and take an INVITE (the SDP offer is kept for
the test to read) by answering it with an SDES-SRTP answer of its own, then hang up.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
import ssl
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SipMessage:
    start: str
    headers: list[tuple[str, str]]
    body: str = ""

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        raise KeyError(name)

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def status(self) -> int:
        return int(self.start.split(" ", 2)[1]) if self.start.startswith("SIP/2.0") else 0

    @property
    def method(self) -> str:
        return "" if self.start.startswith("SIP/2.0") else self.start.split(" ", 1)[0]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@dataclass
class TlsPhone:
    """``username`` registered from 127.0.0.1 over TLS to Asterisk's ``port``."""

    username: str
    password: str
    port: int
    cafile: Path
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    local_port: int = 0
    tls_version: str = ""
    _cseq: int = 1
    _call_id: str = field(default_factory=lambda: secrets.token_hex(8))
    _tag: str = field(default_factory=lambda: secrets.token_hex(4))

    async def connect(self) -> None:
        context = ssl.create_default_context(cafile=str(self.cafile))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.port, ssl=context, server_hostname="127.0.0.1"
        )
        self.local_port = self.writer.get_extra_info("sockname")[1]
        self.tls_version = self.writer.get_extra_info("ssl_object").version()

    async def close(self) -> None:
        if self.writer is not None:  # pjsip sends no close_notify back: no TLS shutdown
            self.writer.transport.abort()
            await asyncio.sleep(0)

    async def send(self, start: str, headers: list[tuple[str, str]], body: str = "") -> None:
        assert self.writer is not None
        lines = [start, *(f"{k}: {v}" for k, v in headers), f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n" + body).encode())
        await self.writer.drain()

    async def receive(self, timeout_s: float = 10.0) -> SipMessage:
        assert self.reader is not None
        async with asyncio.timeout(timeout_s):
            while True:
                head = (await self.reader.readuntil(b"\r\n\r\n")).decode()
                if head.strip():  # keep-alive CRLFs are skipped
                    break
        start, *rest = head.strip("\r\n").split("\r\n")
        headers = [(k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in rest)]
        message = SipMessage(start, headers)
        length = int(next((v for k, v in headers if k.lower() in ("content-length", "l")), "0"))
        if length:
            message.body = (await self.reader.readexactly(length)).decode()
        return message

    def _via(self) -> str:
        branch = "z9hG4bK" + secrets.token_hex(6)
        return f"SIP/2.0/TLS 127.0.0.1:{self.local_port};branch={branch};rport"

    def _request_headers(self, method: str, user: str | None = None) -> list[tuple[str, str]]:
        aor = f"sip:{user or self.username}@127.0.0.1"
        self._cseq += 1
        return [
            ("Via", self._via()),
            ("Max-Forwards", "70"),
            ("From", f"<{aor}>;tag={self._tag}"),
            ("To", f"<{aor}>"),
            ("Call-ID", self._call_id),
            ("CSeq", f"{self._cseq} {method}"),
            ("Contact", f"<sip:{self.username}@127.0.0.1:{self.local_port};transport=tls>"),
            ("User-Agent", "hotline-tests-tls-phone"),
        ]

    async def options(self, user: str) -> SipMessage:
        """An out-of-dialog OPTIONS to Asterisk from ``user``: its answer."""
        uri = f"sip:127.0.0.1:{self.port};transport=tls"
        await self.send(f"OPTIONS {uri} SIP/2.0", self._request_headers("OPTIONS", user))
        return await self._final()

    async def register(self, expires_s: int = 120) -> SipMessage:
        """REGISTER, answering the digest challenge: Asterisk's final answer."""
        uri = f"sip:127.0.0.1:{self.port};transport=tls"
        headers = [*self._request_headers("REGISTER"), ("Expires", str(expires_s))]
        await self.send(f"REGISTER {uri} SIP/2.0", headers)
        answer = await self._final()
        if answer.status != 401:
            return answer
        challenge = next(
            c for c in answer.all("WWW-Authenticate") if "MD5" in c or "algorithm" not in c
        )
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
        ha1 = _md5(f"{self.username}:{params['realm']}:{self.password}")
        ha2 = _md5(f"REGISTER:{uri}")
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = _md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        authorization = (
            f'Digest username="{self.username}", realm="{params["realm"]}", '
            f'nonce="{params["nonce"]}", uri="{uri}", response="{response}", '
            f'algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"'
            + (f', opaque="{params["opaque"]}"' if "opaque" in params else "")
        )
        headers = [*self._request_headers("REGISTER"), ("Expires", str(expires_s))]
        await self.send(f"REGISTER {uri} SIP/2.0", [*headers, ("Authorization", authorization)])
        return await self._final()

    async def _final(self) -> SipMessage:
        """The final answer to our request, answering Asterisk's requests meanwhile."""
        while True:
            message = await self.receive()
            if message.status >= 200:
                return message
            if message.method:
                await self.answer(message, 200)

    async def answer(self, request: SipMessage, status: int, body: str = "") -> None:
        reasons = {200: "OK", 486: "Busy Here"}
        headers = [
            *((k, v) for k, v in request.headers if k.lower() in ("via", "v")),
            ("From", request.header("From")),
            ("To", _with_tag(request.header("To"), self._tag)),
            ("Call-ID", request.header("Call-ID")),
            ("CSeq", request.header("CSeq")),
        ]
        if body:
            headers += [
                ("Contact", f"<sip:{self.username}@127.0.0.1:{self.local_port};transport=tls>"),
                ("Content-Type", "application/sdp"),
            ]
        await self.send(f"SIP/2.0 {status} {reasons[status]}", headers, body)

    async def next_request(self, method: str, timeout_s: float = 15.0) -> SipMessage:
        """The next ``method`` Asterisk sends (OPTIONS on the way are answered 200)."""
        async with asyncio.timeout(timeout_s):
            while True:
                message = await self.receive(timeout_s)
                if message.method == method:
                    return message
                if message.method and message.method != "ACK":
                    await self.answer(message, 200)


def srtp_answer(offer: str, rtp_port: int) -> str:
    """An SDP answer taking the offer's first crypto suite, with a key of our own."""
    suite = re.search(r"a=crypto:(\d+) (\S+) ", offer)
    assert suite is not None, offer
    key = base64.b64encode(secrets.token_bytes(30)).decode()
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {rtp_port} RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        f"a=crypto:{suite[1]} {suite[2]} inline:{key}\r\na=sendrecv\r\n"
    )


def _with_tag(to: str, tag: str) -> str:
    return to if ";tag=" in to else f"{to};tag={tag}"

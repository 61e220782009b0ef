"""The AMI client's wire: one TCP (or TLS) connection to Asterisk, decoded as it is read.

A buffered protocol: the loop reads into this connection's own buffer (`recv_into`) and the
bytes go straight to the codec (`AmiDecoder.feed` copies them into its own buffer once). A
`StreamReader` gets `recv(256 KiB)` per read, a fresh 256 KiB allocation cut down to the
size of an event, then copies it into the reader's buffer and again out of it: measured in
`bench/ami_client_bench.py`. No reader task either: messages are handed over from the
loop's read callback.

What the connection does not know: actions, ActionIDs, lists or subscriptions (the client's).
It tells its owner every message (`on_message`) and, once, why it ended (`on_lost`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from telephony.ami_codec import AmiDecoder, AmiMessage, AmiProtocolError

log = logging.getLogger(__name__)

READ_BUFFER_BYTES = 65536  # one read; a longer burst takes more reads
EOF = "EOF"


class AmiConnection(asyncio.BufferedProtocol):
    """Feeds each read to `decoder`, each message to `on_message`; `on_lost(reason)` once.

    Reasons: `EOF` (Asterisk closed), `protocol error: ...` (a malformed stream: the messages
    decoded before the fault are delivered first, then the connection is aborted), the socket
    error, or what `abort` was given.
    """

    def __init__(
        self,
        decoder: AmiDecoder,
        on_message: Callable[[AmiMessage], None],
        on_lost: Callable[[str], None],
        read_bytes: int = READ_BUFFER_BYTES,
    ) -> None:
        self._decoder = decoder
        self._on_message = on_message
        self._on_lost = on_lost
        self._view = memoryview(bytearray(read_bytes))
        self.transport: asyncio.Transport | None = None
        self._reason: str | None = None  # set once, when the connection is done for
        self._lost = False
        self._paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._eof_timer: asyncio.TimerHandle | None = None
        self.reads = 0  # reads delivered (for tests and the bench: messages per read)

    # -- protocol callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        if self._reason is not None:  # aborted: what is still buffered is not ours to use
            return
        self.reads += 1
        try:
            messages = self._decoder.feed(self._view[:nbytes])
        except AmiProtocolError as exc:
            self._deliver(exc.messages)
            self.abort(f"protocol error: {exc}")
            return
        self._deliver(messages)

    def _deliver(self, messages: list[AmiMessage] | tuple[AmiMessage, ...]) -> None:
        for message in messages:
            if self._reason is not None:
                return
            try:
                self._on_message(message)
            except Exception as exc:  # a bug in the owner: end this connection, loudly
                log.exception("AMI message handler failed")
                self.abort(f"internal error: {exc!r}")

    def eof_received(self) -> bool | None:
        self._set_reason(EOF)
        return None  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self._set_reason(str(exc) or type(exc).__name__)
        self._set_reason("connection closed")
        self._lost = True
        if self._eof_timer is not None:
            self._eof_timer.cancel()
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionResetError("AMI connection lost"))
        self._drain_waiters.clear()
        assert self._reason is not None
        self._on_lost(self._reason)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()

    # -- the owner's side ------------------------------------------------------------------

    def is_closing(self) -> bool:
        return self._reason is not None or self.transport is None or self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if self.transport is None or self.is_closing():
            raise ConnectionResetError("AMI connection is closed")
        self.transport.write(data)

    async def drain(self) -> None:
        """Until the transport's write buffer is below its high-water mark again."""
        if self._lost:
            raise ConnectionResetError("AMI connection lost")
        if not self._paused:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._drain_waiters.append(waiter)
        await waiter

    def abort(self, reason: str) -> None:
        """Drop the connection now (no flush); `on_lost` follows with `reason`."""
        self._set_reason(reason)
        if self.transport is not None:
            self.transport.abort()

    def expect_eof_within(self, seconds: float) -> None:
        """Asterisk said it is shutting down: abort if its EOF does not come in time."""
        if self._eof_timer is None and not self._lost:
            loop = asyncio.get_running_loop()
            self._eof_timer = loop.call_later(seconds, self.abort, "no EOF")

    def _set_reason(self, reason: str) -> None:
        if self._reason is None:
            self._reason = reason

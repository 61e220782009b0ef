"""The AGI socket as res_agi reads it: `poll` on the socket, then `fgets` from a stdio stream.

res_agi waits for the next command, and media commands watch for one, with `poll` on the
socket; it reads the command with `fgets` from a `FILE*` opened on the same socket. One
`read` can bring several lines into the stdio buffer; `fgets` returns the first, and the
rest wait there, unseen by `poll`, until more bytes arrive on the socket. A service that
writes a second command before the first is answered can therefore stall forever on the
real Asterisk, and so it does here.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from typing import Final, Literal

from telephony import agi_codec as agi

#: What one `read` takes off the socket (stdio's buffer).
STDIO_BUFFER: Final = 4096


class _Partial(enum.Enum):
    LINE = "partial line"


#: `fgets` found only part of a line: poll again.
PARTIAL: Final = _Partial.LINE


class ControlStream:
    def __init__(self) -> None:
        self._socket: deque[bytes | None] = deque()  # not yet read; None: the peer closed
        self._waiting = asyncio.Event()  # bytes (or the end) wait on the socket
        self._stdio: deque[str] = deque()  # lines read off the socket, not yet returned
        self._decoder = agi.CommandDecoder()

    def deliver(self, data: bytes | None) -> None:
        """Bytes arrived on the socket (None: the service closed or half-closed it)."""
        self._socket.append(data)
        self._waiting.set()

    async def readable(self) -> None:
        """`poll` on the socket: returns when bytes or the end wait there."""
        await self._waiting.wait()

    def fgets(self) -> str | Literal[_Partial.LINE] | None:
        """The next line, from the stdio buffer if it holds one, else after one `read`;
        None at the end, ``PARTIAL`` when only part of a line came. Raises
        AgiProtocolError for input the decoder refuses."""
        if self._stdio:
            return self._stdio.popleft()
        chunk = bytearray()
        while self._socket and self._socket[0] is not None and len(chunk) < STDIO_BUFFER:
            data = self._socket.popleft()
            assert data is not None
            chunk += data
        if not self._socket:
            self._waiting.clear()
        self._stdio.extend(self._decoder.feed(bytes(chunk)))
        if self._stdio:
            return self._stdio.popleft()
        return None if self._socket else PARTIAL

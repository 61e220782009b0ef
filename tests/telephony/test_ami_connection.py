"""The AMI client's wire over real sockets: whatever way the stream is cut into reads, the
same messages come out; a malformed stream ends the connection with a clear reason."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from telephony.ami_codec import AmiDecoder, AmiMessage
from telephony.ami_connection import EOF, AmiConnection

STREAM = (
    b"Asterisk Call Manager/9.0.0\r\n"
    b"Response: Success\r\nActionID: hotline-1\r\nMessage: Authentication accepted\r\n\r\n"
    b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
    b"Event: VarSet\nChannel: PJSIP/1001-00000001\nVariable: RTPAUDIOQOS\nValue:  ssrc=1\n\n"
    b"\r\n"  # chan_sip's stray blank line between messages
    b"Event: Newstate\r\nCallerIDName: M\xc3\xbcller\r\nChannelState: 6\r\n\r\n"
)


@dataclass
class Peer:
    """Asterisk's end of a socket pair; the client's end runs an `AmiConnection`."""

    asterisk: socket.socket
    connection: AmiConnection
    messages: list[AmiMessage] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    async def send(self, data: bytes) -> None:
        """Sends `data` and waits until the connection has taken it in a read of its own."""
        reads = self.connection.reads
        await asyncio.get_running_loop().sock_sendall(self.asterisk, data)
        await until(lambda: self.connection.reads > reads or bool(self.lost))


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 -- polls state the test does not own
            await asyncio.sleep(0.001)


async def connect(read_bytes: int = 65536) -> Peer:
    asterisk, ours = socket.socketpair()
    asterisk.setblocking(False)
    messages: list[AmiMessage] = []
    lost: list[str] = []
    decoder = AmiDecoder(max_message_bytes=4096, max_line_bytes=512)
    _, connection = await asyncio.get_running_loop().create_connection(
        lambda: AmiConnection(decoder, messages.append, lost.append, read_bytes), sock=ours
    )
    return Peer(asterisk, connection, messages, lost)


def whole(data: bytes) -> list[AmiMessage]:
    return AmiDecoder().feed(data)


async def test_a_stream_split_at_every_byte_boundary_across_two_reads_decodes_the_same() -> None:
    expected = whole(STREAM)
    assert len(expected) == 4
    for cut in range(1, len(STREAM)):
        peer = await connect()
        try:
            await peer.send(STREAM[:cut])
            await peer.send(STREAM[cut:])
            assert peer.connection.reads == 2, cut
            assert peer.messages == expected, cut
            assert not peer.lost
        finally:
            peer.asterisk.close()
            assert peer.connection.transport is not None
            peer.connection.transport.abort()


async def test_a_read_buffer_smaller_than_a_message_decodes_the_same() -> None:
    peer = await connect(read_bytes=7)
    try:
        await asyncio.get_running_loop().sock_sendall(peer.asterisk, STREAM)
        await until(lambda: len(peer.messages) == 4)
        assert peer.messages == whole(STREAM)
        assert peer.connection.reads >= len(STREAM) // 7
    finally:
        peer.asterisk.close()
    await until(lambda: peer.lost == [EOF])


async def test_a_malformed_line_delivers_what_came_before_then_ends_with_a_clear_reason() -> None:
    peer = await connect()
    try:
        bad = b"Event: Hangup\r\nthis line has no colon\r\n\r\nEvent: Late\r\n\r\n"
        await peer.send(STREAM + bad)
        await until(lambda: bool(peer.lost))
        assert [m.event for m in peer.messages] == [m.event for m in whole(STREAM)]
        (reason,) = peer.lost
        assert reason.startswith("protocol error: AMI line without a header name"), reason
        assert peer.connection.is_closing()
        with pytest.raises(ConnectionResetError):
            peer.connection.write(b"Action: Ping\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            await peer.connection.drain()
    finally:
        peer.asterisk.close()


async def test_eof_and_a_missing_eof_after_shutdown_are_told_apart() -> None:
    peer = await connect()
    await peer.send(STREAM)
    peer.connection.expect_eof_within(0.05)
    await until(lambda: bool(peer.lost))
    assert peer.lost == ["no EOF"]
    peer.asterisk.close()

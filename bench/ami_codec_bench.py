"""AMI decoding speed: the frame-at-once ``telephony.ami_codec.AmiDecoder`` against the
line-at-a-time decoder it replaced (``LineDecoder`` below, kept here as the baseline).

The traffic is every AMI connection recorded from a real Asterisk 20 in tests/fixtures/asterisk
(``ami_*.jsonl``, Asterisk's side: the banner, responses, lists and call events), fed to the
service-side decoder the way the AMI client reads it: one message per read (a quiet link),
4 KiB reads, and 64 KiB reads (the client's read size, a busy link). Both decoders must give
identical messages before anything is timed. Per decoder and read size: messages/s, µs per
message, lines/s, and the speed-up of the new decoder.

    .venv/bin/python bench/ami_codec_bench.py [--repeat 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, Protocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telephony.ami_codec import (  # noqa: E402 -- after the sys.path line, as a script
    BANNER_PREFIX,
    AmiDecoder,
    AmiMessage,
    AmiProtocolError,
    Role,
)
from tests.transcripts import ASTERISK_TO_SERVICE, load, names  # noqa: E402

READS: Final = {"one message per read": 0, "4 KiB reads": 4096, "64 KiB reads": 65536}


class LineDecoder:
    """The AMI decoder before frame-at-once parsing: one Python call per line.

    Same contract and limits as ``AmiDecoder`` (see its docstring); kept only as the
    benchmark's baseline and as the reference the codec tests compare against.
    """

    def __init__(
        self,
        max_message_bytes: int = 65536,
        expect_banner: bool = True,
        *,
        max_line_bytes: int = 8192,
        role: Role | None = None,
    ) -> None:
        self._max_message = max_message_bytes
        self._max_line = max_line_bytes
        self._role: Role = role or ("service" if expect_banner else "asterisk")
        self._need_banner = expect_banner
        self.banner: str | None = None
        self._buf = bytearray()
        self._pairs: list[tuple[str, str]] = []
        self._in_message = False
        self._message_bytes = 0
        self._failure: str | None = None

    @property
    def pending_bytes(self) -> int:
        return self._message_bytes + len(self._buf)

    def feed(self, data: bytes) -> list[AmiMessage]:
        if self._failure is not None:
            raise AmiProtocolError(self._failure)
        self._buf += data
        out: list[AmiMessage] = []
        pos = 0
        try:
            while True:
                nl = self._buf.find(b"\n", pos)
                if nl < 0:
                    self._check_partial(len(self._buf) - pos)
                    break
                line = bytes(self._buf[pos:nl])
                pos = nl + 1
                self._line(line, out)
        except AmiProtocolError as exc:
            self._failure = str(exc)
            self._buf.clear()
            raise AmiProtocolError(str(exc), tuple(out)) from None
        del self._buf[:pos]
        return out

    def _check_partial(self, size: int) -> None:
        if size > self._max_line + 1:
            raise AmiProtocolError(f"AMI line longer than {self._max_line} bytes")
        if self._message_bytes + size > self._max_message:
            raise AmiProtocolError(f"AMI message larger than {self._max_message} bytes")

    def _line(self, raw: bytes, out: list[AmiMessage]) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if len(raw) > self._max_line:
            raise AmiProtocolError(f"AMI line longer than {self._max_line} bytes")
        if self._need_banner and self.banner is None:
            text = _text(raw)
            if not text.startswith(BANNER_PREFIX):
                raise AmiProtocolError(f"not an AMI server: first line {text[:60]!r}")
            self.banner = text
            return
        if not raw:
            if self._in_message or self._role == "asterisk":
                out.append(AmiMessage(tuple(self._pairs)))
            self._pairs = []
            self._in_message = False
            self._message_bytes = 0
            return
        self._in_message = True
        self._message_bytes += len(raw) + 2
        if self._message_bytes > self._max_message:
            raise AmiProtocolError(f"AMI message larger than {self._max_message} bytes")
        text = _text(raw)
        key, colon, value = text.partition(":")
        if not colon or not key:
            if self._role == "asterisk":
                return
            raise AmiProtocolError(f"AMI line without a header name: {text[:60]!r}")
        if self._role == "asterisk":
            value = value.lstrip(" \t")
        elif value.startswith(" "):
            value = value[1:]
        self._pairs.append((key, value))


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


class Decoder(Protocol):
    def feed(self, data: bytes) -> list[AmiMessage]: ...


def recorded_connections() -> list[list[bytes]]:
    """Asterisk's side of every recorded AMI connection, one entry per record (as sent)."""
    connections: list[list[bytes]] = []
    for name in names("ami_"):
        records = [r for r in load(name) if r.dir == ASTERISK_TO_SERVICE and not r.eof]
        for conn in sorted({r.conn or 0 for r in records}):
            connections.append([r.data.encode() for r in records if (r.conn or 0) == conn])
    return connections


def as_reads(connection: list[bytes], size: int) -> list[bytes]:
    """The connection's bytes cut into reads of `size` (0: one record per read)."""
    if size == 0:
        return connection
    data = b"".join(connection)
    return [data[i : i + size] for i in range(0, len(data), size)]


def decode_all(make: Callable[[], Decoder], streams: Sequence[list[bytes]]) -> list[AmiMessage]:
    out: list[AmiMessage] = []
    for reads in streams:
        decoder = make()
        for data in reads:
            out.extend(decoder.feed(data))
    return out


def best_seconds(
    make: Callable[[], Decoder], streams: Sequence[list[bytes]], rounds: int
) -> tuple[float, float]:
    """The fastest round's wall and CPU seconds; messages are dropped as they come, as the
    client dispatches them (keeping them all would time the garbage collector walking them)."""
    best = (float("inf"), float("inf"))
    for _ in range(rounds):
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        for reads in streams:
            decoder = make()
            for data in reads:
                decoder.feed(data)
        best = min(best, (time.perf_counter() - started, time.process_time() - cpu))
    return best


def main(repeat: int, rounds: int) -> None:
    connections = recorded_connections()
    data = b"".join(b"".join(c) for c in connections)
    lines = data.count(b"\n") * repeat
    print(
        f"{len(connections)} recorded AMI connections, {len(data) / 1024:.0f} KiB, replayed "
        f"{repeat}x; best of {rounds} rounds"
    )
    print(
        f"{'reads':<22} {'decoder':<22} {'messages/s':>11} {'µs/message':>11} "
        f"{'CPU µs/msg':>11} {'lines/s':>11}"
    )
    for label, size in READS.items():
        streams = [as_reads(c, size) for c in connections] * repeat
        old = decode_all(LineDecoder, streams)
        new = decode_all(AmiDecoder, streams)
        if new != old:
            raise SystemExit(f"{label}: the decoders disagree; nothing timed")
        seconds = {
            "line at a time (old)": best_seconds(LineDecoder, streams, rounds),
            "frame at once (new)": best_seconds(AmiDecoder, streams, rounds),
        }
        for decoder, (took, cpu) in seconds.items():
            print(
                f"{label:<22} {decoder:<22} {len(new) / took:>11,.0f} "
                f"{took / len(new) * 1e6:>11.2f} {cpu / len(new) * 1e6:>11.2f} "
                f"{lines / took:>11,.0f}"
            )
        (_, old_cpu), (_, new_cpu) = seconds.values()
        print(f"{label:<22} {'speed-up (CPU)':<22} {old_cpu / new_cpu:>10.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="replays of the recorded traffic")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds; the best is kept")
    parser.add_argument("--quick", action="store_true", help="2 replays, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.rounds = 2, 2
    main(args.repeat, args.rounds)

"""SIP endpoints for the real-Asterisk tests: SIPp (Debian ``sip-tester``) processes running
the scenarios in ``tests/asterisk/sipp/``.

A caller dials the hotline through the trunk (it comes from 127.0.0.1, the trunk's
``identify``), sends RFC 4733 DTMF and hangs up when told. An agent's phone registers as
``agent<id>`` and answers Asterisk's OPTIONS and INVITEs (ring, answer, talk, hang up; or
busy; or never answer). Both log what happened (``-trace_logs``), which the tests read.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import struct
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .rig import Asterisk, free_udp_port, free_udp_range, sip_password

SCENARIOS = Path(__file__).with_name("sipp")
SIPP = shutil.which("sipp")


def render(template: str, directory: Path, name: str, **values: object) -> Path:
    text = (SCENARIOS / template).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    assert "{{" not in text, f"{template}: a placeholder is left"
    path = directory / name
    path.write_text(text)
    return path


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Dtmf:
    """RFC 4733 telephone-events (payload type 101) in the RTP stream, one capture per key
    written by ``dtmf_capture`` and played by SIPp's ``play_pcap_audio``. (SIPp 3.6.1's own
    ``play_dtmf`` sends its events with payload types 97, 96... that match no offer, and
    replaying one capture twice repeats its timestamp: Asterisk drops the repeat.)"""

    digits: str


EVENTS = {**{str(n): n for n in range(10)}, "*": 10, "#": 11}
DTMF_PAYLOAD = 101


def dtmf_capture(path: Path, key: str, press: int) -> Path:
    """A pcap of one key press (RFC 4733: 7 packets 20 ms apart, then the end packet
    three times), with the press's own sequence numbers and timestamp."""
    seq, timestamp, ssrc = 1000 + press * 16, 8000 + press * 16000, 0x484F544C
    steps = [(i * 20_000, i, i * 160, False) for i in range(7)]
    steps += [(140_000 + i * 50, 7, 1120, True) for i in range(3)]
    packets = [
        (
            offset_us,
            struct.pack(
                "!BBHIIBBH",
                0x80,
                (0x80 if n == 0 else 0) | DTMF_PAYLOAD,
                (seq + step) & 0xFFFF,
                timestamp,
                ssrc,
                EVENTS[key],
                (0x80 if end else 0) | 10,
                duration,
            ),
        )
        for n, (offset_us, step, duration, end) in enumerate(steps)
    ]
    return write_pcap(path, packets)


@dataclass(frozen=True)
class Speech:
    """A recorded utterance (8 kHz mono 16-bit wav, e.g. ``ivr.speech.synth``) sent as
    G.711 u-law RTP (payload type 0, 20 ms packets), then ``silence_s`` of silence so that
    RECORD FILE's silence detection ends the turn as it would for a real caller."""

    wav: Path
    silence_s: float = 2.5

    @property
    def seconds(self) -> float:
        with wave.open(str(self.wav)) as audio:
            frames, rate = int(audio.getnframes()), int(audio.getframerate())
        return frames / rate + self.silence_s


PCMU_SILENCE = 0xFF
SAMPLES_PER_PACKET = 160  # 20 ms at 8 kHz


def speech_capture(path: Path, speech: Speech, turn: int) -> Path:
    """A pcap of ``speech`` as u-law RTP (its own SSRC per turn, so Asterisk takes it as a
    new source; sox converts the samples)."""
    ulaw = subprocess.run(
        ["sox", str(speech.wav), "-t", "raw", "-e", "u-law", "-b", "8", "-r", "8000", "-"],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    ulaw += bytes([PCMU_SILENCE]) * round(speech.silence_s * 8000)
    ulaw += bytes([PCMU_SILENCE]) * (-len(ulaw) % SAMPLES_PER_PACKET)
    seq, ssrc = 20_000 + turn * 4_000, 0x53504B00 + turn
    packets = [
        (
            n * 20_000,
            struct.pack("!BBHII", 0x80, 0x80 if n == 0 else 0, (seq + n) & 0xFFFF, n * 160, ssrc)
            + ulaw[start : start + SAMPLES_PER_PACKET],
        )
        for n, start in enumerate(range(0, len(ulaw), SAMPLES_PER_PACKET))
    ]
    return write_pcap(path, packets)


def write_pcap(path: Path, packets: Sequence[tuple[int, bytes]]) -> Path:
    """A pcap of RTP packets (offset in microseconds, RTP bytes) in UDP over IPv4 over
    Ethernet, as SIPp's ``play_pcap_audio`` reads them (it keeps only the RTP)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for n, (offset_us, rtp) in enumerate(packets):
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        header = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
            bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]),
        )  # fmt: skip
        total = sum(struct.unpack("!10H", header))
        total = (total & 0xFFFF) + (total >> 16)
        checksum = ~((total & 0xFFFF) + (total >> 16)) & 0xFFFF
        ip = header[:10] + struct.pack("!H", checksum) + header[12:]
        frame = bytes(12) + b"\x08\x00" + ip + udp
        seconds, micros = divmod(offset_us, 1_000_000)
        out += struct.pack("<IIII", 1 + seconds, micros, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
    return path


Step = Pause | Dtmf | Speech


def steps_xml(steps: Sequence[Step], directory: Path, name: str) -> str:
    lines = []
    presses = turns = 0
    for step in steps:
        if isinstance(step, Pause):
            lines.append(f'  <pause milliseconds="{round(step.seconds * 1000)}"/>')
        elif isinstance(step, Speech):
            capture = speech_capture(directory / f"{name}-speech{turns}.pcap", step, turns)
            turns += 1
            lines.append(
                f'  <nop><action><exec play_pcap_audio="{capture}"/></action></nop>\n'
                f'  <pause milliseconds="{round(step.seconds * 1000)}"/>'
            )
        else:
            for key in step.digits:
                capture = dtmf_capture(directory / f"{name}-key{presses}.pcap", key, presses)
                presses += 1
                lines.append(
                    f'  <nop><action><exec play_pcap_audio="{capture}"/></action></nop>\n'
                    '  <pause milliseconds="300"/>'
                )
    return "\n".join(lines)


class Sipp:
    """One SIPp process; its scenario log lines are what the endpoint saw."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.directory = directory
        self.log_file = directory / f"{name}.log"
        self.screen = directory / f"{name}.screen"
        self.process: asyncio.subprocess.Process | None = None

    async def spawn(
        self, asterisk: Asterisk, scenario: Path, *args: str, calls: int | None = 1
    ) -> None:
        if SIPP is None:
            raise RuntimeError("sipp is not installed (scripts/system-deps.sh: sip-tester)")
        media = free_udp_range(6)
        with self.screen.open("wb") as screen:
            self.process = await asyncio.create_subprocess_exec(
                SIPP,
                f"127.0.0.1:{asterisk.ports.sip}",
                "-sf",
                str(scenario),
                "-i",
                "127.0.0.1",
                "-mi",
                "127.0.0.1",
                "-mp",
                str(media),
                *(["-m", str(calls)] if calls is not None else []),
                "-nostdin",
                "-trace_logs",
                "-log_file",
                str(self.log_file),
                "-trace_err",
                "-trace_msg",  # every SIP message, for a failing test's reader
                "-message_file",
                str(self.directory / f"{self.name}.msg"),
                "-error_file",
                str(self.directory / f"{self.name}.errors"),
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=screen,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.directory,
            )

    def events(self) -> list[str]:
        """What the endpoint logged, in order: ``answered``, ``busy <caller>``..."""
        if not self.log_file.exists():
            return []
        return [line.strip() for line in self.log_file.read_text().splitlines() if line.strip()]

    async def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        async with asyncio.timeout(timeout_s):
            return await self.process.wait()

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            async with asyncio.timeout(5):
                await self.process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


class SippAgent(Sipp):
    """An agent's phone: registers as ``agent<id>``, then answers per ``behaviour``."""

    def __init__(
        self,
        agent_id: str,
        directory: Path,
        *,
        behaviour: str = "answer",
        ring_s: float = 0.5,
        talk_s: float = 2.0,
        hold: tuple[float, float] | None = None,
    ) -> None:
        """``hold``: (after, for) seconds: the phone holds each call it answers ``after``
        seconds in, for ``for`` seconds (its re-INVITEs), then talks ``talk_s``; end such a
        call from Asterisk's side (the phone's own BYE would reuse CSeq 1)."""
        super().__init__(f"agent{agent_id}", directory)
        self.username = f"agent{agent_id}"
        self.behaviour = behaviour
        self.ring_s = ring_s if behaviour == "answer" else 3600.0
        self.talk_s = talk_s
        self.hold = hold

    async def start(self, asterisk: Asterisk, timeout_s: float = 10.0) -> None:
        register = render("agent_register.xml", self.directory, f"{self.name}-register.xml")
        phone = render(
            "agent_phone.xml",
            self.directory,
            f"{self.name}-phone.xml",
            behaviour=self.behaviour,
            ring_ms=round(self.ring_s * 1000),
            talk_ms=round(self.talk_s * 1000),
            after_answer="talk" if self.hold is None else "hold",
            hold_after_ms=round((self.hold or (0, 0))[0] * 1000),
            hold_ms=round((self.hold or (0, 0))[1] * 1000),
        )
        await self.spawn(
            asterisk,
            register,
            "-oocsf",
            str(phone),
            "-p",
            str(free_udp_port()),
            "-s",
            self.username,
            "-au",
            self.username,
            "-ap",
            sip_password(self.username),
        )
        async with asyncio.timeout(timeout_s):
            while "registered" not in self.events():
                assert self.process is not None
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.name} exited: {self.screen.read_text()[-2000:]}")
                await asyncio.sleep(0.05)
        # Asterisk qualifies the new contact; until then Dial may think it unreachable.
        await asterisk.until(
            lambda: "Avail" in asterisk.cli(f"pjsip show aor {self.username}"), timeout_s
        )

    def outcomes(self, kind: str) -> list[str]:
        """The calls this phone ended as ``kind``: answered, busy, cancelled..."""
        return [e for e in self.events() if e.split(" ", 1)[0] == kind]


#: Asterisk 20's default ``qualify_timeout`` (pjsip.conf leaves it): a qualify not answered
#: within it marks the contact Unreachable.
QUALIFY_TIMEOUT_S = 3.0


class SippCustomer(Sipp):
    """A customer's phone behind the carrier: answers what Asterisk sends over the trunk
    (the trunk's contact is 127.0.0.1, the port after Asterisk's SIP port)."""

    def __init__(self, directory: Path, *, ring_s: float = 0.3, talk_s: float = 2.0) -> None:
        super().__init__("customer", directory)
        self.asterisk: Asterisk | None = None
        self.ring_s = ring_s
        self.talk_s = talk_s

    async def start(self, asterisk: Asterisk) -> None:
        phone = render(
            "agent_phone.xml",
            self.directory,
            "customer-phone.xml",
            behaviour="answer",
            ring_ms=round(self.ring_s * 1000),
            talk_ms=round(self.talk_s * 1000),
            after_answer="talk",
            hold_after_ms=0,
            hold_ms=0,
        )
        port = str(asterisk.ports.sip + 1)
        self.asterisk = asterisk
        asterisk.release_carrier_port()
        await self.spawn(asterisk, phone, "-p", port, "-s", "customer", calls=None)
        # Nobody listened on the trunk's contact before: Asterisk may hold it Unreachable
        # (and refuse to dial it) until its next qualify, up to 60 s away; qualify it now.
        # A qualify sent just before this phone listened still times out (qualify_timeout,
        # 3 s) after that and marks the contact Unreachable over the newer answer (a CI run:
        # Reachable at :40, Unreachable at :41, the late 200 to its resend ignored), so
        # once past that timeout, qualify again.
        for wait_s in (0.0, QUALIFY_TIMEOUT_S + 0.5):
            await asyncio.sleep(wait_s)
            await asterisk.acli("pjsip qualify trunk")
            await asterisk.until(lambda: "Avail" in asterisk.cli("pjsip show aor trunk"), 10)

    async def stop(self) -> None:
        await super().stop()
        if self.asterisk is not None:
            self.asterisk.hold_carrier_port()

    def outcomes(self, kind: str) -> list[str]:
        return [e for e in self.events() if e.split(" ", 1)[0] == kind]


class SippCaller(Sipp):
    """A customer calling the hotline from ``number`` through the trunk."""

    def __init__(
        self,
        number: str,
        directory: Path,
        steps: Sequence[Step] = (),
        *,
        hold_s: float = 30.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name or f"caller{number.lstrip('+')}", directory)
        self.number = number
        self.steps = tuple(steps)
        self.hold_s = hold_s

    async def start(self, asterisk: Asterisk) -> None:
        scenario = render(
            "caller.xml",
            self.directory,
            f"{self.name}.xml",
            number=self.number,
            steps=steps_xml(self.steps, self.directory, self.name),
            hold_ms=round(self.hold_s * 1000),
        )
        await self.spawn(asterisk, scenario, "-p", str(free_udp_port()))

    async def start_load(self, asterisk: Asterisk, *, rate: float, calls: int) -> None:
        """``calls`` calls at ``rate`` calls/s from one SIPp (the number may hold
        ``[call_number]``); for bench/asterisk_load_bench.py."""
        scenario = render(
            "caller.xml",
            self.directory,
            f"{self.name}.xml",
            number=self.number,
            steps=steps_xml(self.steps, self.directory, self.name),
            hold_ms=round(self.hold_s * 1000),
        )
        await self.spawn(
            asterisk,
            scenario,
            "-p",
            str(free_udp_port()),
            "-r",
            f"{rate:g}",
            "-l",
            "100000",
            calls=calls,
        )

    async def run(self, asterisk: Asterisk, timeout_s: float = 60.0) -> int:
        await self.start(asterisk)
        return await self.wait(timeout_s)

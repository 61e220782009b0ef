"""A real Asterisk 20 for tests: the project's own ``docker/asterisk`` configs on top of the
stock samples, run as a child process in its own directory on free loopback ports.

The bundle (``../shared/asterisk-20/*.tar.xz`` beside the repository or any parent, or
``HOTLINE_ASTERISK_BUNDLE``) is unpacked once per machine into the temp directory, keyed by
its sha256. Only machine settings are rewritten: bind addresses and ports, paths, and the
deployment values ``docker/asterisk/configure.sh`` fills from the environment (the rig runs
that same script, so what is tested is what is deployed).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import os
import random
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.ports import unused_port

ROOT = Path(__file__).resolve().parents[2]
DOCKER_ASTERISK = ROOT / "docker" / "asterisk"
PROMPTS = ROOT / "prompts"
CORE_SOUNDS = Path("/usr/share/asterisk/sounds/en")
BUNDLE_ENV = "HOTLINE_ASTERISK_BUNDLE"
AMI_SECRET = "rig-ami-secret"
AMI_USER = "hotline"

#: What the rig's Asterisk loads: the modules the project's dialplan and PJSIP config use,
#: nothing else (fast start, and no ERROR from modules nobody configured).
MODULES = (
    "res_timing_timerfd.so",
    "res_sorcery_config.so",
    "res_sorcery_memory.so",
    "res_sorcery_astdb.so",
    "res_pjproject.so",
    "res_rtp_asterisk.so",
    "res_srtp.so",  # SDES-SRTP for agents' phones (and the trunk, by choice)
    "res_pjsip.so",
    "res_pjsip_session.so",
    "res_pjsip_pubsub.so",
    "res_pjsip_authenticator_digest.so",
    "res_pjsip_outbound_authenticator_digest.so",
    "res_pjsip_endpoint_identifier_user.so",
    "res_pjsip_endpoint_identifier_ip.so",
    "res_pjsip_endpoint_identifier_anonymous.so",
    "res_pjsip_registrar.so",
    "res_pjsip_outbound_registration.so",
    "res_pjsip_sdp_rtp.so",
    "res_pjsip_caller_id.so",
    "res_pjsip_rfc3326.so",
    "res_pjsip_nat.so",
    "res_pjsip_dtmf_info.so",
    "res_pjsip_logger.so",
    "res_pjsip_dlg_options.so",
    "chan_pjsip.so",
    "bridge_simple.so",
    "bridge_native_rtp.so",
    "bridge_holding.so",
    "bridge_softmix.so",
    "bridge_builtin_features.so",
    "codec_ulaw.so",
    "codec_alaw.so",
    "codec_a_mu.so",
    "codec_gsm.so",
    "codec_resample.so",
    "format_wav.so",
    "format_pcm.so",
    "format_gsm.so",
    "format_sln.so",
    "format_wav_gsm.so",
    "pbx_config.so",
    "res_musiconhold.so",
    "res_mutestream.so",
    "res_speech.so",
    "res_agi.so",
    "app_dial.so",
    "app_queue.so",
    "app_playback.so",
    "app_record.so",
    "app_read.so",
    "app_voicemail.so",
    "app_mixmonitor.so",
    "app_chanspy.so",
    "app_originate.so",
    "res_clioriginate.so",  # tests place a call to a phone: channel originate
    "app_senddtmf.so",
    "app_verbose.so",
    "app_echo.so",
    "func_callerid.so",
    "func_channel.so",
    "func_strings.so",
    "func_logic.so",
    "func_cdr.so",
    "func_global.so",
    "func_hangupcause.so",
    "func_timeout.so",
    "func_talkdetect.so",  # TALK_DETECT: spoken barge-in
    "cdr_csv.so",
)


class BundleMissing(Exception):
    """No Asterisk bundle on this machine: the real-Asterisk tests are skipped."""


def find_bundle(root: Path = ROOT, environ: Mapping[str, str] = os.environ) -> Path:
    configured = environ.get(BUNDLE_ENV)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise BundleMissing(f"{BUNDLE_ENV}={configured} is not a file")
        return path
    for parent in root.parents:
        found = sorted((parent / "shared" / "asterisk-20").glob("asterisk-*.tar.xz"))
        if found:
            return found[-1]
    raise BundleMissing(
        "no real Asterisk bundle: put asterisk-*.tar.xz in ../shared/asterisk-20/ beside the "
        f"repository or set {BUNDLE_ENV}"
    )


def unpacked(bundle: Path) -> Path:
    """The bundle's tree (``sbin/asterisk``, ``lib/``...), unpacked once per machine."""
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"hotline-asterisk-{digest}"
    if not cache.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=cache.name + ".", dir=cache.parent))
        with tarfile.open(bundle) as archive:
            archive.extractall(staging, filter="tar")
        try:
            staging.rename(cache)
        except OSError:  # another session unpacked it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    (tree,) = [p for p in cache.iterdir() if (p / "sbin" / "asterisk").is_file()]
    return tree


def free_udp_port() -> int:
    """A free UDP port (SIP), as the kernel gives it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_udp_range(size: int) -> int:
    """The first port of ``size`` consecutive free UDP ports (even, for RTP)."""
    for _ in range(200):
        start = random.randrange(20000, 60000 - size) & ~1
        socks: list[socket.socket] = []
        try:
            for port in range(start, start + size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return start
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free UDP port range")


@dataclass(frozen=True)
class Ports:
    sip: int
    sip_tls: int  # TCP: SIP over TLS (transport-tls)
    ami: int
    ami_tls: int  # AMI over TLS (manager.conf tlsbindaddr)
    rtp_start: int
    rtp_end: int
    agi: int  # where the test's hotline listens for FastAGI


def sip_password(username: str) -> str:
    return f"pw-{username}"


def deployment_environment(ports: Ports, keys: Path) -> dict[str, str]:
    """What an admin puts in docker/.env, for this machine's run: ``keys`` holds the SIP
    TLS certificate and key (``sip_certificate``). The agents' phones are SIPp, which
    speaks plain RTP: the agents' SRTP is off, so Asterisk bridges their media natively as
    a lab without SRTP does (an SDES endpoint, even answered in plain RTP, is never bridged
    natively: the mute test watches that bridge); tests/asterisk/test_sip_tls.py checks the
    required setting on an Asterisk of its own."""
    users = [
        line.split("=", 1)[1].strip()
        for line in (DOCKER_ASTERISK / "pjsip.conf").read_text().splitlines()
        if line.startswith("username=")
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOTLINE_AMI_SECRET": AMI_SECRET,
        "HOTLINE_AGI": f"agi://127.0.0.1:{ports.agi}/hotline",
        "HOTLINE_TRUNK_MATCH": "127.0.0.1",
        "HOTLINE_SIP_TLS_CERT": str(keys / "sip.crt"),
        "HOTLINE_SIP_TLS_KEY": str(keys / "sip.key"),
        "HOTLINE_AGENT_SRTP": "no",
    }
    for user in users:
        env["HOTLINE_SIP_PASSWORD_" + "".join(c if c.isalnum() else "_" for c in user)] = (
            sip_password(user)
        )
    return env


def _rewrite(path: Path, replacements: Mapping[str, str], *, section: str | None = None) -> None:
    """Replace whole ``key=value`` lines by key (machine settings only), in every section
    or in the sections named ``section``."""
    lines = []
    current = None
    for line in path.read_text().splitlines():
        if line.startswith("["):
            current = line[1:].split("]", 1)[0]
        key = line.split("=", 1)[0].strip() if "=" in line and not line.startswith(";") else ""
        inside = section is None or current == section
        lines.append(replacements.get(key, line) if inside else line)
    path.write_text("\n".join(lines) + "\n")


def sip_certificate(keys: Path, name: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throwaway self-signed certificate and key for SIP over TLS (``openssl``)."""
    keys.mkdir(parents=True, exist_ok=True)
    cert, key = keys / "sip.crt", keys / "sip.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert),
         "-addext", f"subjectAltName=IP:{name}"],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


def build_run_dir(
    tree: Path, run: Path, ports: Ports, environment: Mapping[str, str] | None = None
) -> None:
    """``environment``: values over the rig's ``deployment_environment``."""
    etc = run / "etc"
    shutil.copytree(tree / "etc-samples", etc)
    for conf in DOCKER_ASTERISK.glob("*.conf"):
        shutil.copy(conf, etc / conf.name)
    sip_certificate(run / "keys")
    subprocess.run(
        ["sh", str(DOCKER_ASTERISK / "configure.sh"), str(etc)],
        env={**deployment_environment(ports, run / "keys"), **(environment or {})},
        check=True,
        capture_output=True,
    )
    for name in ("data/moh", "lib", "db", "agi-bin", "spool", "run", "log/cdr-csv", "cache"):
        (run / name).mkdir(parents=True, exist_ok=True)
    (run / "data" / "documentation").symlink_to(tree / "share" / "documentation")
    sounds = run / "data" / "sounds"
    sounds.mkdir()
    (sounds / "en").symlink_to(CORE_SOUNDS)
    (sounds / "hotline").symlink_to(PROMPTS)
    # A hold-music file, as an admin puts in the moh volume (8 kHz mono wav).
    shutil.copy(CORE_SOUNDS / "beep.wav", run / "data" / "moh" / "beep.wav")
    (etc / "asterisk.conf").write_text(
        "[directories]\n"
        f"astetcdir => {etc}\n"
        f"astmoddir => {tree / 'lib' / 'asterisk' / 'modules'}\n"
        f"astdatadir => {run / 'data'}\n"
        f"astvarlibdir => {run / 'lib'}\n"
        f"astdbdir => {run / 'db'}\n"
        f"astkeydir => {run / 'lib'}\n"
        f"astagidir => {run / 'agi-bin'}\n"
        f"astspooldir => {run / 'spool'}\n"
        f"astrundir => {run / 'run'}\n"
        f"astlogdir => {run / 'log'}\n"
        f"astcachedir => {run / 'cache'}\n"
        f"astsbindir => {tree / 'sbin'}\n"
        "[options]\n"
        "verbose = 3\n"
        "documentation_language = en_US\n"
        "cache_record_files = no\n"
        "transmit_silence = yes\n"
    )
    (etc / "modules.conf").write_text(
        "[modules]\nautoload=no\n" + "".join(f"load => {m}\n" for m in MODULES)
    )
    (etc / "logger.conf").write_text(
        "[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose(3),dtmf\n"
    )
    (etc / "cdr.conf").write_text(
        "[general]\nenable=yes\n[csv]\nusegmtime=yes\nloguniqueid=yes\nloguserfield=yes\n"
        "accountlogs=no\n"
    )
    (etc / "rtp.conf").write_text(
        f"[general]\nrtpstart={ports.rtp_start}\nrtpend={ports.rtp_end}\n"
    )
    _rewrite(
        etc / "manager.conf",
        {
            "port": f"port={ports.ami}",
            "bindaddr": "bindaddr=127.0.0.1",
            "tlsbindaddr": f"tlsbindaddr=127.0.0.1:{ports.ami_tls}",
        },
    )
    _rewrite(etc / "pjsip.conf", {"bind": f"bind=127.0.0.1:{ports.sip}"}, section="transport-udp")
    _rewrite(
        etc / "pjsip.conf", {"bind": f"bind=127.0.0.1:{ports.sip_tls}"}, section="transport-tls"
    )
    _rewrite(etc / "musiconhold.conf", {"directory": f"directory={run / 'data' / 'moh'}"})
    _rewrite(
        etc / "pjsip.conf",
        {
            # the carrier: nobody listens there in tests; the callback tests answer there
            "contact": f"contact=sip:127.0.0.1:{ports.sip + 1}",
            "server_uri": f"server_uri=sip:127.0.0.1:{ports.sip + 1}",
            "client_uri": f"client_uri=sip:your-account@127.0.0.1:{ports.sip + 1}",
        },
    )


@dataclass(frozen=True)
class CdrRecord:
    """One line of cdr_csv's Master.csv (Asterisk 20's column order)."""

    accountcode: str
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: str
    answer: str
    end: str
    duration: int
    billsec: int
    disposition: str
    amaflags: str
    uniqueid: str
    userfield: str


def cdr_record(row: list[str]) -> CdrRecord:
    text = dict(zip(CDR_TEXT_COLUMNS, row[:12] + row[14:18], strict=True))
    return CdrRecord(**text, duration=int(row[12]), billsec=int(row[13]))


CDR_TEXT_COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "disposition", "amaflags", "uniqueid", "userfield",
)  # fmt: skip


class Asterisk:
    """One running Asterisk: ``start``, ``cli``, ``log``, ``channels``, ``cdrs``, ``stop``."""

    def __init__(self, tree: Path, run: Path, ports: Ports) -> None:
        self.tree = tree
        self.run = run
        self.ports = ports
        self.conf = run / "etc" / "asterisk.conf"
        self.process: subprocess.Popen[bytes] | None = None
        #: The log up to "fully booted": what loading the config said.
        self.boot_log = ""
        #: The carrier's port (the trunk's contact), held while no test's customer phone
        #: listens there: another process's SIPp, which takes a random free port, would
        #: otherwise answer the trunk's qualify and leave, and Asterisk would refuse the next
        #: callback to the contact it then found Unreachable.
        self._carrier: socket.socket | None = None
        self.hold_carrier_port()

    def hold_carrier_port(self) -> None:
        if self._carrier is None:
            carrier = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                carrier.bind(("127.0.0.1", self.ports.sip + 1))
            except OSError:  # taken in the moment it was free: the next start qualifies anyway
                carrier.close()
                return
            self._carrier = carrier

    def release_carrier_port(self) -> None:
        """Free the carrier's port for the test's customer phone to bind."""
        if self._carrier is not None:
            self._carrier.close()
            self._carrier = None

    @property
    def log_path(self) -> Path:
        return self.run / "log" / "messages.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def errors(self, since: int = 0, log: str | None = None) -> list[str]:
        """The ERROR lines of the log (or of ``log``) from offset ``since``."""
        text = self.log() if log is None else log
        return [line for line in text[since:].splitlines() if "] ERROR[" in line]

    def start(self, timeout_s: float = 30.0) -> None:
        console = (self.run / "log" / "console.txt").open("wb")
        self.process = subprocess.Popen(
            [str(self.tree / "sbin" / "asterisk"), "-C", str(self.conf), "-f", "-n", "-g"],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Asterisk exited at start:\n{self.log()[-3000:]}")
            done = subprocess.run(
                self._remote("core waitfullybooted"), capture_output=True, timeout=timeout_s
            )
            if done.returncode == 0:
                self.boot_log = self.log()
                return
            time.sleep(0.1)
        raise RuntimeError(f"Asterisk not fully booted in {timeout_s} s")

    def _remote(self, command: str) -> list[str]:
        return [str(self.tree / "sbin" / "asterisk"), "-C", str(self.conf), "-rx", command]

    def cli(self, command: str, timeout_s: float = 10.0) -> str:
        done = subprocess.run(
            self._remote(command), capture_output=True, text=True, timeout=timeout_s
        )
        if done.returncode != 0:
            raise RuntimeError(f"asterisk -rx {command!r}: {done.stderr or done.stdout}")
        return done.stdout

    async def acli(self, command: str) -> str:
        """``cli`` off the event loop (the service under test runs on it)."""
        return await asyncio.to_thread(self.cli, command)

    async def until(self, check: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Wait until ``check`` (run off the loop: it may ask the CLI) is true."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await asyncio.to_thread(check):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"not true after {timeout_s} s: {check}")

    def channels(self) -> list[str]:
        """``core show channels concise``: one line per live channel."""
        return [line for line in self.cli("core show channels concise").splitlines() if line]

    def cdrs(self) -> list[CdrRecord]:
        path = self.run / "log" / "cdr-csv" / "Master.csv"
        if not path.exists():
            return []
        with path.open(newline="") as handle:
            return [cdr_record(row) for row in csv.reader(handle) if len(row) >= 18]

    def stop(self) -> None:
        self.release_carrier_port()
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.cli("core stop now", timeout_s=5)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


def start_asterisk(
    run: Path,
    *,
    agi_port: int | None = None,
    rtp_ports: int = 200,
    customise: Callable[[Path], None] | None = None,
    environment: Mapping[str, str] | None = None,
) -> Asterisk:
    """Unpack (once), build ``run`` and start an Asterisk there; raises BundleMissing.
    ``customise`` gets the etc directory before the start (the load bench adds agents);
    ``environment`` changes what configure.sh is given (docker/.env's choices)."""
    tree = unpacked(find_bundle())
    if shutil.which("openssl") is None:
        raise BundleMissing("openssl is missing (the SIP TLS certificate): scripts/system-deps.sh")
    if not CORE_SOUNDS.is_dir():
        raise BundleMissing(
            f"{CORE_SOUNDS} is missing: install asterisk-core-sounds-en-wav "
            "(scripts/system-deps.sh)"
        )
    rtp = free_udp_range(rtp_ports)
    ports = Ports(
        sip=free_udp_pair(),
        sip_tls=unused_port(),
        ami=unused_port(),
        ami_tls=unused_port(),
        rtp_start=rtp,
        rtp_end=rtp + rtp_ports - 1,
        agi=agi_port if agi_port is not None else unused_port(),
    )
    build_run_dir(tree, run, ports, environment)
    if customise is not None:
        customise(run / "etc")
    asterisk = Asterisk(tree, run, ports)
    asterisk.start()
    return asterisk


def free_udp_pair() -> int:
    """A free UDP port whose next port is free too (Asterisk's SIP, and the carrier's)."""
    for _ in range(100):
        port = free_udp_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free UDP port pair")

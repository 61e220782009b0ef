"""docker/asterisk/configure.sh: the deployment's secrets and addresses come from the
environment, land where Asterisk reads them, and a missing or unsafe one stops the start."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from .asterisk_conf import Section, dialplan, named, read_conf

ROOT = Path(__file__).resolve().parents[2]
ASTERISK = ROOT / "docker" / "asterisk"


def usernames() -> list[str]:
    sections = read_conf(ASTERISK / "pjsip.conf")
    return [s.get("username") or "" for s in sections if s.get("username")]


def environment(**changes: str | None) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOTLINE_AMI_SECRET": "ami-s3cret",
        "HOTLINE_AGI": "agi://10.0.0.7:4573/hotline",
        "HOTLINE_TRUNK_MATCH": "203.0.113.0/24,198.51.100.7",
    }
    for user in usernames():
        env["HOTLINE_SIP_PASSWORD_" + "".join(c if c.isalnum() else "_" for c in user)] = (
            f"pw.{user}"
        )
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def configure(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    etc = tmp_path / "etc"
    shutil.copytree(ASTERISK, etc)
    return subprocess.run(
        ["sh", str(ASTERISK / "configure.sh"), str(etc)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_secret_and_address_is_filled_from_the_environment(tmp_path: Path) -> None:
    assert configure(tmp_path, environment()).returncode == 0
    etc = tmp_path / "etc"
    (user,) = named(read_conf(etc / "manager.conf"), "hotline")
    assert user.get("secret") == "ami-s3cret"
    (globals_,) = named(read_conf(etc / "extensions.conf"), "globals")
    assert globals_.get("HOTLINE_AGI") == "agi://10.0.0.7:4573/hotline"
    pjsip = read_conf(etc / "pjsip.conf")
    (identify,) = [s for s in named(pjsip, "trunk") if s.get("type") == "identify"]
    assert identify.get("match") == "203.0.113.0/24,198.51.100.7"
    for section in pjsip:
        if section.get("username"):
            assert section.get("password") == f"pw.{section.get('username')}"
    assert "from-environment" not in "".join(p.read_text() for p in etc.glob("*.conf"))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HOTLINE_AMI_SECRET", None),
        ("HOTLINE_TRUNK_MATCH", None),
        ("HOTLINE_TRUNK_MATCH", "sip.carrier.example"),  # a name: dropped if DNS fails at start
        ("HOTLINE_SIP_PASSWORD_agent1001", None),
        ("HOTLINE_SIP_PASSWORD_agent1001", "a|b"),
        ("HOTLINE_AGI", "agi://x/hotline;rm"),
        ("HOTLINE_SIP_TLS_CERT", "/keys/a|b.crt"),
        ("HOTLINE_AGENT_SRTP", "maybe"),
        ("HOTLINE_TRUNK_TLS", "true"),
        ("HOTLINE_TRUNK_SRTP", "sdes"),
    ],
)
def test_a_missing_or_unsafe_value_stops_the_start_and_names_it(
    tmp_path: Path, variable: str, value: str | None
) -> None:
    done = configure(tmp_path, environment(**{variable: value}))
    assert done.returncode != 0
    assert variable in done.stderr


def test_the_fallbacks_voicemail_box_is_shipped() -> None:
    fallback = dialplan(named(read_conf(ASTERISK / "extensions.conf"), "hotline-fallback")[0])
    (step,) = [s for s in fallback if s.app == "Voicemail"]
    box, _, context = step.args.split(",")[0].partition("@")
    (section,) = named(read_conf(ASTERISK / "voicemail.conf"), context)
    assert section.get(box)


def test_phones_are_identified_by_their_user_before_the_trunk_by_its_address() -> None:
    (glob,) = [s for s in read_conf(ASTERISK / "pjsip.conf") if s.get("type") == "global"]
    order = (glob.get("endpoint_identifier_order") or "").split(",")
    assert order.index("username") < order.index("ip")


def test_the_fallback_queue_puts_callers_through_in_parallel() -> None:
    """autofill=no (Asterisk's default) connects one waiting caller at a time."""
    (general,) = named(read_conf(ASTERISK / "queues.conf"), "general")
    assert general.get("autofill") == "yes"


def endpoint(pjsip: list[Section], name: str) -> Section:
    (found,) = [s for s in named(pjsip, name) if s.get("type") == "endpoint"]
    return found


def test_agents_get_tls_and_srtp_the_trunk_plain_udp_by_default(tmp_path: Path) -> None:
    assert configure(tmp_path, environment()).returncode == 0
    pjsip = read_conf(tmp_path / "etc" / "pjsip.conf")
    (tls,) = named(pjsip, "transport-tls")
    assert tls.get("protocol") == "tls"
    assert tls.get("cert_file") == "/etc/asterisk/keys/hotline-sip.crt"
    assert tls.get("priv_key_file") == "/etc/asterisk/keys/hotline-sip.key"
    for user in usernames():
        if user.startswith("agent"):
            agent = endpoint(pjsip, user)
            assert agent.get("media_encryption") == "sdes"
            assert agent.get("media_encryption_optimistic") == "no"  # SRTP required
    trunk = endpoint(pjsip, "trunk")
    assert trunk.get("transport") == "transport-udp"
    assert trunk.get("media_encryption") == "no"
    (registration,) = named(pjsip, "trunk-registration")
    assert registration.get("transport") == "transport-udp"
    (manager,) = named(read_conf(tmp_path / "etc" / "manager.conf"), "general")
    assert manager.get("tlsenable") == "yes"  # AMI over TLS, with the same certificate
    assert manager.get("tlscertfile") == tls.get("cert_file")
    assert manager.get("tlsprivatekey") == tls.get("priv_key_file")


def test_the_trunk_over_tls_with_srtp_and_agents_optional_by_environment(
    tmp_path: Path,
) -> None:
    env = environment(
        HOTLINE_SIP_TLS_CERT="/run/certs/sip.pem",
        HOTLINE_SIP_TLS_KEY="/run/certs/sip.key",
        HOTLINE_AGENT_SRTP="optional",
        HOTLINE_TRUNK_TLS="yes",
        HOTLINE_TRUNK_SRTP="required",
    )
    assert configure(tmp_path, env).returncode == 0
    pjsip = read_conf(tmp_path / "etc" / "pjsip.conf")
    (tls,) = named(pjsip, "transport-tls")
    assert tls.get("cert_file") == "/run/certs/sip.pem"
    assert endpoint(pjsip, "agent1001").get("media_encryption_optimistic") == "yes"
    trunk = endpoint(pjsip, "trunk")
    assert trunk.get("transport") == "transport-tls"
    assert trunk.get("media_encryption") == "sdes"
    assert trunk.get("media_encryption_optimistic") == "no"
    (aor,) = [s for s in named(pjsip, "trunk") if s.get("type") == "aor"]
    assert (aor.get("contact") or "").endswith(";transport=tls")
    (registration,) = named(pjsip, "trunk-registration")
    assert registration.get("transport") == "transport-tls"
    assert (registration.get("server_uri") or "").endswith(";transport=tls")
    # the bots (test callers with plain RTP) are untouched
    assert endpoint(pjsip, "bot1").get("media_encryption") is None


def test_agents_on_plain_rtp_for_a_lab(tmp_path: Path) -> None:
    """``HOTLINE_AGENT_SRTP=no``: the agents' endpoints offer plain RTP (Asterisk can then
    bridge their media natively); anything else than required/optional/no is refused."""
    assert configure(tmp_path, environment(HOTLINE_AGENT_SRTP="no")).returncode == 0
    pjsip = read_conf(tmp_path / "etc" / "pjsip.conf")
    assert endpoint(pjsip, "agent1001").get("media_encryption") == "no"
    assert configure(tmp_path / "bad", environment(HOTLINE_AGENT_SRTP="off")).returncode != 0


def test_the_service_image_copies_every_package_pyproject_installs() -> None:
    """``pip install .`` in the image installs what was copied: a package left out (center
    and channels were) is an image whose ``hotline serve`` fails on its first import."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    dockerfile = (ROOT / "docker" / "hotline" / "Dockerfile").read_text().splitlines()
    copied = {line.split()[1] for line in dockerfile if line.startswith("COPY ")}
    assert wanted <= copied


PEERS = {
    "HOTLINE_SYSTEM_NAME": "asterisk-a",
    "HOTLINE_PEERS": "asterisk-a=172.28.0.10,asterisk-b=172.28.0.11:5060",
    "HOTLINE_PEER_SECRET": "peer.s3cret",
}


def test_no_peers_no_trunks_between_asterisks(tmp_path: Path) -> None:
    assert configure(tmp_path, environment()).returncode == 0
    pjsip = read_conf(tmp_path / "etc" / "pjsip.conf")
    assert not [s for s in pjsip if s.name.startswith("peer-")]


def test_a_trunk_to_each_peer_but_itself_known_by_its_own_name(tmp_path: Path) -> None:
    assert configure(tmp_path, environment(**PEERS)).returncode == 0
    pjsip = read_conf(tmp_path / "etc" / "pjsip.conf")
    assert not named(pjsip, "peer-asterisk-a")  # one list on every Asterisk: itself skipped
    by_type = {s.get("type"): s for s in named(pjsip, "peer-asterisk-b")}
    endpoint, aor = by_type["endpoint"], by_type["aor"]
    assert endpoint.get("context") == "hotline-peers"
    assert endpoint.get("from_user") == "peer-asterisk-a"  # how asterisk-b knows the call
    assert endpoint.get("auth") == endpoint.get("outbound_auth") == "hotline-peers-auth"
    assert aor.get("contact") == "sip:172.28.0.11:5060"
    (auth,) = named(pjsip, "hotline-peers-auth")
    assert auth.get("password") == "peer.s3cret"
    context = dialplan(named(read_conf(tmp_path / "etc" / "extensions.conf"), "hotline-peers")[0])
    assert [step.app for step in context] == ["NoOp", "Dial", "Hangup"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HOTLINE_PEER_SECRET", None),
        ("HOTLINE_PEER_SECRET", "a|b"),
        ("HOTLINE_SYSTEM_NAME", None),
        ("HOTLINE_PEERS", "asterisk-b"),
        ("HOTLINE_PEERS", "asterisk-b=1.2.3.4;x"),
    ],
)
def test_a_missing_or_unsafe_peer_value_stops_the_start_and_names_it(
    tmp_path: Path, variable: str, value: str | None
) -> None:
    done = configure(tmp_path, environment(**{**PEERS, variable: value}))
    assert done.returncode != 0
    assert variable in done.stderr

"""SIP over TLS and SRTP from the project's own docker/asterisk configs, on a real Asterisk
of its own started as a deployment that requires SRTP for agents (``HOTLINE_AGENT_SRTP``
left at its default, ``required``) with a throwaway certificate made by openssl.

An agent's phone (``TlsPhone``: Python's ssl, since this machine's SIPp has no TLS)
registers over TLS with its password, and a call to it is offered as SRTP only
(``RTP/SAVP`` with SDES ``a=crypto`` keys), answered with keys, and hung up; Asterisk
logs no ERROR throughout."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.tls import client_context
from telephony.ami_client import AmiClient

from .rig import (
    AMI_SECRET,
    AMI_USER,
    Asterisk,
    BundleMissing,
    free_udp_port,
    sip_password,
    start_asterisk,
)
from .sip_tls import TlsPhone, srtp_answer

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl"),
]

AGENT = "agent1001"


@pytest.fixture(scope="module")
def strict_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Asterisk]:
    try:
        running = start_asterisk(
            tmp_path_factory.mktemp("asterisk-tls"),
            environment={"HOTLINE_AGENT_SRTP": "required"},
            rtp_ports=20,
        )
    except BundleMissing as missing:
        pytest.skip(str(missing))
    try:
        yield running
    finally:
        running.stop()


def phone(pbx: Asterisk, password: str | None = None) -> TlsPhone:
    return TlsPhone(
        AGENT,
        sip_password(AGENT) if password is None else password,
        pbx.ports.sip_tls,
        cafile=pbx.run / "keys" / "sip.crt",
    )


def test_the_tls_transport_and_srtp_load_without_an_error(strict_pbx: Asterisk) -> None:
    assert strict_pbx.errors(log=strict_pbx.boot_log) == []
    transports = strict_pbx.cli("pjsip show transports")
    assert "transport-tls" in transports
    assert f"127.0.0.1:{strict_pbx.ports.sip_tls}" in transports
    endpoint = strict_pbx.cli(f"pjsip show endpoint {AGENT}")
    assert " media_encryption                   : sdes" in endpoint
    assert " media_encryption_optimistic        : false" in endpoint
    assert "res_srtp.so" in strict_pbx.cli("module show like res_srtp")


async def test_an_options_over_tls_is_answered_with_a_verified_certificate(
    strict_pbx: Asterisk,
) -> None:
    tls = phone(strict_pbx)
    await tls.connect()  # verifies Asterisk's certificate against the throwaway CA
    try:
        assert tls.tls_version in ("TLSv1.2", "TLSv1.3")
        # from no phone's user: taken for the trunk by its address, which asks no password
        assert (await tls.options("monitor")).status == 200
        # from an agent's: a password is asked first
        assert (await tls.options(AGENT)).status == 401
    finally:
        await tls.close()


async def test_a_wrong_password_is_refused_over_tls(strict_pbx: Asterisk) -> None:
    tls = phone(strict_pbx, password="not-the-password")
    await tls.connect()
    try:
        assert (await tls.register()).status in (401, 403)
    finally:
        await tls.close()


async def test_an_agent_registered_over_tls_is_called_with_srtp_only(
    strict_pbx: Asterisk, tmp_path: Path
) -> None:
    before = len(strict_pbx.log())
    tls = phone(strict_pbx)
    await tls.connect()
    try:
        assert (await tls.register()).status == 200
        contacts = strict_pbx.cli(f"pjsip show aor {AGENT}")
        assert "transport=tls" in contacts.lower(), contacts
        call = asyncio.create_task(
            strict_pbx.acli(f"channel originate PJSIP/{AGENT} application Wait 30")
        )
        invite = await tls.next_request("INVITE")
        offer = invite.body
        assert "m=audio " in offer
        assert " RTP/SAVP " in offer  # SRTP only: no plain RTP/AVP offered
        assert "RTP/AVP " not in offer
        assert "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in offer
        # the media keys are in the INVITE: they crossed the wire inside TLS only
        await tls.answer(invite, 200, srtp_answer(offer, free_udp_port()))
        await tls.next_request("ACK")
        await call
        await strict_pbx.until(lambda: any(AGENT in c for c in strict_pbx.channels()))
        strict_pbx.cli("channel request hangup all")
        bye = await tls.next_request("BYE")
        await tls.answer(bye, 200)
        await strict_pbx.until(lambda: not strict_pbx.channels())
    finally:
        await tls.close()
    assert strict_pbx.errors(since=before) == []


async def test_hotline_logs_in_to_the_ami_over_tls_verifying_the_certificate(
    strict_pbx: Asterisk,
) -> None:
    """manager.conf's TLS port, with the same certificate as SIP (configure.sh)."""
    ami = AmiClient(
        host="127.0.0.1",
        port=strict_pbx.ports.ami_tls,
        username=AMI_USER,
        secret=AMI_SECRET,
        ssl=client_context(ca_file=strict_pbx.run / "keys" / "sip.crt"),
        server_hostname="127.0.0.1",
    )
    try:
        await ami.start()
        async with asyncio.timeout(10):
            await ami.wait_connected()
        assert (await ami.action("Ping")).get("Response") == "Success"
    finally:
        await ami.close()


def test_the_trunk_over_tls_with_srtp_loads_without_an_error(tmp_path: Path) -> None:
    """``HOTLINE_TRUNK_TLS=yes``, ``HOTLINE_TRUNK_SRTP=optional``: the carrier's URIs keep
    their ``\\;transport=tls`` (the rig points them at 127.0.0.1, as configure.sh would)."""

    def carrier_over_tls(etc: Path) -> None:
        conf = etc / "pjsip.conf"
        text = re.sub(
            r"^(contact|server_uri)=(.*)$", r"\1=\2\\;transport=tls", conf.read_text(), flags=re.M
        )
        conf.write_text(text)

    try:
        pbx = start_asterisk(
            tmp_path / "asterisk",
            environment={"HOTLINE_TRUNK_TLS": "yes", "HOTLINE_TRUNK_SRTP": "optional"},
            customise=carrier_over_tls,
            rtp_ports=20,
        )
    except BundleMissing as missing:
        pytest.skip(str(missing))
    try:
        assert pbx.errors(log=pbx.boot_log) == []
        assert f"sip:127.0.0.1:{pbx.ports.sip + 1};transport=tls" in pbx.cli("pjsip show aor trunk")
        trunk = pbx.cli("pjsip show endpoint trunk")
        assert " transport                          : transport-tls" in trunk
        assert " media_encryption                   : sdes" in trunk
        assert " media_encryption_optimistic        : true" in trunk
        assert ";transport=tls" in pbx.cli("pjsip show registrations")
    finally:
        pbx.stop()

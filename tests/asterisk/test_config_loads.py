"""The project's own docker/asterisk configs, loaded by a real Asterisk 20: every file
parses, nothing logs an ERROR, and what hotline's config names exists in Asterisk."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.config import load_config

from .rig import ROOT, Asterisk
from .sipp import SippAgent

pytestmark = pytest.mark.asterisk


def agent_ids() -> list[str]:
    config = load_config(ROOT / "config", environ={})
    return [a.id for a in config.agents.agents if a.endpoint]


def test_the_shipped_configs_load_without_an_error(asterisk: Asterisk) -> None:
    assert "fully booted" in asterisk.cli("core waitfullybooted")
    assert asterisk.errors(log=asterisk.boot_log) == []
    # A reload reports success even when a section is refused: only the log tells.
    before = len(asterisk.log())
    asterisk.cli("module reload res_pjsip.so")
    asterisk.cli("dialplan reload")
    asterisk.cli("module reload app_queue.so")
    asterisk.cli("module reload app_voicemail.so")
    asterisk.cli("pjsip show endpoints")
    assert asterisk.errors(since=before) == []


def test_every_agent_of_agents_yaml_is_a_pjsip_endpoint(asterisk: Asterisk) -> None:
    listed = asterisk.cli("pjsip show endpoints")
    for agent_id in agent_ids():
        assert f"Endpoint:  agent{agent_id} " in listed


def test_the_fallback_queue_rings_every_agent(asterisk: Asterisk) -> None:
    queue = asterisk.cli("queue show hotline")
    for agent_id in agent_ids():
        assert f"PJSIP/agent{agent_id}" in queue


def test_the_fallbacks_voicemail_box_exists(asterisk: Asterisk) -> None:
    users = asterisk.cli("voicemail show users for default")
    assert "hotline" in users.split()


def test_every_call_runs_the_one_agi_url_from_the_environment(asterisk: Asterisk) -> None:
    globals_ = asterisk.cli("dialplan show globals")
    assert f"HOTLINE_AGI=agi://127.0.0.1:{asterisk.ports.agi}/hotline" in globals_
    assert "AGI(${HOTLINE_AGI})" in asterisk.cli("dialplan show hotline")


def test_the_trunk_is_identified_by_the_address_from_the_environment(
    asterisk: Asterisk,
) -> None:
    trunk = asterisk.cli("pjsip show endpoint trunk")
    assert "Match: 127.0.0.1/32" in trunk


async def test_a_phone_registering_from_the_trunks_address_is_its_agent(
    pbx: Asterisk, sip_dir: Path
) -> None:
    """The carrier and the agents share 127.0.0.1 here: the From user decides."""
    agent = SippAgent(agent_ids()[0], sip_dir)
    try:
        await agent.start(pbx)
        contacts = pbx.cli(f"pjsip show aor agent{agent_ids()[0]}")
        assert "Avail" in contacts
    finally:
        await agent.stop()
    assert pbx.errors() == []

"""The first call path, end to end over real sockets: emulated Asterisk -> FastAGI -> IVR."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hotline.app import Hotline
from hotline.config import Config, load_config
from telephony.emulator import AgentPhone, AsteriskEmulator, Caller
from tests.ports import unused_port

TIME_SCALE = 0.02  # the emulator's prompts and rings run 50x faster than real time
PHONES = (AgentPhone("SIP/agent1001", "answer", ring_s=0.5, talk_s=1.0),)


def service_config(tmp_path: Path, *, ami_port: int) -> Config:
    return load_config(
        None,
        environ={},
        overrides={
            "fastagi.port": 0,
            "web.port": 0,
            "speech.enabled": False,  # models are tested in tests/ivr/speech
            "ami.port": ami_port,
            "ami.secret": "secret",
            "ami.reconnect_min_s": 0.05,
            "database.url": f"sqlite+aiosqlite:///{tmp_path}/var/hotline.db",
        },
    )


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Hotline]:
    hotline = Hotline(service_config(tmp_path, ami_port=unused_port()))
    async with asyncio.timeout(5):
        await hotline.start()
    try:
        yield hotline
    finally:
        async with asyncio.timeout(5):
            await hotline.close()


@pytest.fixture
async def asterisk(service: Hotline) -> AsyncIterator[AsteriskEmulator]:
    emulator = AsteriskEmulator(agi_port=service.agi.port, phones=PHONES, time_scale=TIME_SCALE)
    async with asyncio.timeout(5):
        await emulator.start()
    try:
        yield emulator
    finally:
        async with asyncio.timeout(10):
            await emulator.stop()


async def test_caller_is_answered_greeted_and_sent_to_the_fallback(
    asterisk: AsteriskEmulator, service: Hotline
) -> None:
    call = await asterisk.place_call(Caller(number="0612345678"))
    result = await call.wait_done(timeout_s=10)

    commands = [command.upper() for command in result.commands]
    assert commands[0] == "ANSWER"
    assert any(c.startswith("STREAM FILE HELLO-WORLD") for c in commands)
    fallback = service.config.fallback
    assert result.after_agi == (fallback.context, fallback.extension, fallback.priority)
    assert result.fallback_used
    assert result.fallback_phone == "SIP/agent1001"


async def test_caller_hanging_up_during_the_welcome_is_not_an_error(
    asterisk: AsteriskEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    call = await asterisk.place_call(Caller(number="0612345678", hangup_on_command=2))
    result = await call.wait_done(timeout_s=10)

    assert result.hung_up_by == "caller"
    assert not result.fallback_used
    assert not any(c.upper().startswith("SET CONTEXT") for c in result.commands)
    assert "caller hung up in node welcome" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_caller_in_another_language_hears_the_configured_one(
    asterisk: AsteriskEmulator,
) -> None:
    call = await asterisk.place_call(Caller(number="0612345678", language="fr"))
    result = await call.wait_done(timeout_s=10)

    assert "SET VARIABLE CHANNEL(language) en" in result.commands
    assert result.variables["CHANNEL(language)"] == "en"


async def test_service_is_ready_once_connected_to_asterisk(tmp_path: Path) -> None:
    async with AsteriskEmulator(agi_port=unused_port(), time_scale=TIME_SCALE) as emulator:
        hotline = Hotline(service_config(tmp_path, ami_port=emulator.ami_port))
        async with asyncio.timeout(5):
            await hotline.start()
            try:
                await hotline.ami.wait_connected()
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(hotline.web.url + "readyz") as response,
                ):
                    assert response.status == 200
            finally:
                await hotline.close()

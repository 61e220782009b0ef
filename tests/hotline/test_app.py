"""The composed service: starts on ephemeral ports, stays up without Asterisk, stops cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hotline.app import Hotline
from hotline.config import Config, load_config
from hotline.process import serve, stop_on_signals
from ivr.flow.nodes import PlayStep
from tests.ports import unused_port


def write_config(directory: Path, *, prompt: str = "hello-world") -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "hotline.yaml").write_text(
        "fastagi:\n  port: 0\n"
        f"ami:\n  port: {unused_port()}\n  secret: s\n  reconnect_min_s: 0.05\n"
        "  reconnect_max_s: 0.2\n"
        "web:\n  port: 0\n"
        f"database:\n  url: sqlite+aiosqlite:///{directory.parent}/var/hotline.db\n",
        encoding="utf-8",
    )
    # Speech models are tested in tests/ivr/speech; here they would only load in the background.
    (directory / "speech.yaml").write_text("enabled: false\n", encoding="utf-8")
    (directory / "ivr.yaml").write_text(
        f"prompts: {{core: [{prompt}]}}\nentry: welcome\nnodes:\n"
        f"  welcome: {{play: {{prompt: {prompt}, next: agents}}}}\n  agents: {{queue: {{}}}}\n",
        encoding="utf-8",
    )
    return directory


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return write_config(tmp_path / "config")


@pytest.fixture
def config(config_dir: Path) -> Config:
    return load_config(config_dir, environ={})


@pytest.fixture
async def service(config: Config, config_dir: Path) -> AsyncIterator[Hotline]:
    hotline = Hotline(config, config_dir=config_dir, environ={})
    async with asyncio.timeout(5):
        await hotline.start()
    try:
        yield hotline
    finally:
        async with asyncio.timeout(5):
            await hotline.close()


async def get(url: str) -> tuple[int, dict[str, object]]:
    async with asyncio.timeout(5), aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json()


async def test_service_listens_on_ephemeral_ports_and_creates_the_database_dir(
    service: Hotline, tmp_path: Path
) -> None:
    assert service.agi.port > 0
    assert service.web.port > 0
    assert (tmp_path / "var").is_dir()
    with socket.create_connection(("127.0.0.1", service.agi.port), timeout=1):
        pass


async def test_healthz_is_200_while_asterisk_is_unreachable(service: Hotline) -> None:
    status, _ = await get(service.web.url + "healthz")
    assert status == 200


async def test_readyz_is_503_naming_ami_while_asterisk_is_unreachable(
    service: Hotline, config: Config
) -> None:
    status, body = await get(service.web.url + "readyz")
    assert status == 503
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks["fastagi"] == "ok"
    assert checks["ami"] == "not ready"  # why, and where Asterisk is: staff only
    assert f"127.0.0.1:{config.ami.port}" not in str(body)


async def test_ami_keeps_retrying_and_says_so(
    service: Hotline, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="telephony")
    await asyncio.sleep(0.3)
    assert not service.ami.connected
    assert "retrying" in caplog.text


async def test_close_leaves_no_task_behind(config: Config) -> None:
    before = asyncio.all_tasks()
    hotline = Hotline(config)
    async with asyncio.timeout(5):
        await hotline.start()
        await asyncio.sleep(0.1)  # let the AMI client fail a connect or two
        await hotline.close()
    assert asyncio.all_tasks() - before == set()


async def test_serve_returns_cleanly_when_stopped(config: Config) -> None:
    before = asyncio.all_tasks()
    stop = asyncio.Event()
    stop.set()
    async with asyncio.timeout(5):
        await serve(config, stop=stop)
    assert asyncio.all_tasks() - before == set()


async def test_sigterm_and_sigint_stop_the_service() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        stop = asyncio.Event()
        with stop_on_signals(stop):
            os.kill(os.getpid(), signum)
            async with asyncio.timeout(2):
                await stop.wait()


async def test_sighup_asks_for_a_reload() -> None:
    stop, reloads = asyncio.Event(), asyncio.Event()
    with stop_on_signals(stop, reload=reloads.set):
        os.kill(os.getpid(), signal.SIGHUP)
        async with asyncio.timeout(2):
            await reloads.wait()
    assert not stop.is_set()


def welcome_prompt(service: Hotline) -> tuple[str, ...]:
    step = service.ivr.flow.settings.nodes["welcome"]
    assert isinstance(step, PlayStep)
    return step.prompt


async def test_reload_gives_new_calls_the_new_flow(service: Hotline, config_dir: Path) -> None:
    write_config(config_dir, prompt="demo-congrats")
    async with asyncio.timeout(5):
        assert await service.request_reload() is True
    assert welcome_prompt(service) == ("demo-congrats",)


async def test_reload_retrains_the_intents_for_new_calls(
    service: Hotline, config_dir: Path
) -> None:
    before = service.ivr.classifier
    assert before is not None
    assert before.classify("my router keeps blinking red", "en").intent == "unknown"
    (config_dir / "intents.yaml").write_text(
        "languages: [en]\n"
        "intents:\n"
        "  technical_fault:\n"
        "    call_type: technical_fault\n"
        "    examples:\n"
        "      en: [my router keeps blinking red, the internet is down, no connection at all]\n"
        "  billing:\n"
        "    call_type: billing\n"
        "    examples:\n"
        "      en: [a question about my bill, I was charged twice, my invoice is wrong]\n",
        encoding="utf-8",
    )
    async with asyncio.timeout(10):
        assert await service.reload() is True
    after = service.ivr.classifier
    assert after is not before
    assert after is not None
    assert after.classify("my router keeps blinking red", "en").intent == "technical_fault"
    assert "intents" not in service.restart_needed


async def test_bad_reload_keeps_the_running_config(
    service: Hotline, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (config_dir / "ivr.yaml").write_text("entry: [oops\n", encoding="utf-8")
    assert await service.reload() is False
    assert welcome_prompt(service) == ("hello-world",)
    assert f"{config_dir / 'ivr.yaml'}:1: YAML syntax error" in caplog.text


async def test_reload_names_settings_that_need_a_restart(
    service: Hotline, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = (config_dir / "hotline.yaml").read_text(encoding="utf-8")
    (config_dir / "hotline.yaml").write_text(text.replace("web:\n  port: 0", "web:\n  port: 1"))
    assert await service.reload() is True
    assert "need a restart: web" in caplog.text


async def test_post_call_transcription_runs_reloads_its_phrases_and_stops(
    config_dir: Path,
) -> None:
    """Enabled, the service builds the transcriber, hands it recorded calls, takes new
    phrases to spot at a reload (the rest of the section at a restart) and leaves no task
    behind when it closes."""
    hotline_yaml = config_dir / "hotline.yaml"
    base = hotline_yaml.read_text(encoding="utf-8")
    enabled = "transcription:\n  enabled: true\n  spot: {legal: [lawyer]}\n"
    hotline_yaml.write_text(base + enabled, encoding="utf-8")
    before = asyncio.all_tasks()
    hotline = Hotline(load_config(config_dir, environ={}), config_dir=config_dir, environ={})
    assert hotline.transcriber is not None
    assert hotline.recorder.on_recorded == hotline.transcriber.recorded
    async with asyncio.timeout(5):
        await hotline.start()
    try:
        hotline_yaml.write_text(base + enabled.replace("lawyer", "court"), encoding="utf-8")
        assert await hotline.reload() is True
        assert hotline.transcriber.settings.spot == {"legal": ["court"]}
        assert "transcription" not in hotline.restart_needed
        hotline_yaml.write_text(base + enabled + "  workers: 2\n", encoding="utf-8")
        assert await hotline.reload() is True
        assert "transcription" in hotline.restart_needed
    finally:
        async with asyncio.timeout(5):
            await hotline.close()
    assert asyncio.all_tasks() - before == set()

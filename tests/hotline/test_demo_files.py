"""``hotline demo`` runs on files of its own: never the database ``hotline serve`` uses, a
copy of the config its admin pages can edit, and callers whose phones a callback reaches."""

from __future__ import annotations

import asyncio
import collections
import io
import random
import re
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from hotline.cli import DEMO_CALLS_PER_MINUTE, main
from hotline.config import load_config
from hotline.demo import CALLS_PER_MINUTE, callback_summary, run_demo
from hotline.demo_files import MARKER, DemoFilesError, prepare_demo_files
from hotline.demo_mix import CallerMix, Kind

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config"
#: What a test changes for a 100x run: ports, speech off, service timers.
TEST_SETTINGS: dict[str, object] = {
    "fastagi.port": 0,
    "web.port": 0,
    "speech.enabled": False,
    "agents.policy.wrap_up_s": 0.4,
    "waiting.retry_s": 0.05,
    "waiting.failed_offer_rest_s": 0.2,
    "waiting.defaults.announce.first_after_s": 0.3,
}


def test_the_demo_directory_is_made_afresh_with_copies_of_the_config_and_prompts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    source = load_config(SHIPPED, environ={})
    first = prepare_demo_files(SHIPPED, source)
    (first.config_dir / "left-over.yaml").write_text("x: 1\n", encoding="utf-8")

    files = prepare_demo_files(SHIPPED, source)

    assert files.root == tmp_path / "var" / "demo"
    assert (files.root / MARKER).is_file()
    assert not (files.config_dir / "left-over.yaml").exists()  # nothing kept from a last run
    assert sorted(p.name for p in files.config_dir.iterdir()) == sorted(
        p.name for p in SHIPPED.glob("*.yaml")
    )
    config = load_config(files.config_dir, environ={}, overrides=files.overrides)
    assert config.database.url == f"sqlite+aiosqlite:///{files.root / 'hotline.db'}"
    assert config.database.spool.parent == files.root
    assert config.ivr.prompts.directory == files.root / "prompts"
    assert config.ivr.prompts.catalog == files.root / "prompts" / "catalog.yaml"
    assert config.ivr.intents_file == files.config_dir / "intents.yaml"
    assert config.ivr.speech.recordings_dir == files.root / "recordings"
    assert config.web.sign_in.two_factor.key_file == files.root / "secret.keys"
    assert (files.root / "prompts" / "en" / "main-menu.wav").is_file()


def test_a_directory_the_demo_did_not_make_is_never_wiped(tmp_path: Path) -> None:
    precious = tmp_path / "demo"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(DemoFilesError, match="not made by hotline demo"):
        prepare_demo_files(SHIPPED, load_config(SHIPPED, environ={}), precious)
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_the_command_runs_the_demo_on_its_own_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = [f"--set={key}={value}" for key, value in TEST_SETTINGS.items()]

    assert main(["demo", "--config", str(SHIPPED), "--duration", "2", *settings]) == 0

    out = capsys.readouterr().out
    assert f"its own files in {tmp_path / 'var' / 'demo'}" in out
    assert (tmp_path / "var" / "demo" / "hotline.db").is_file()
    assert not (tmp_path / "var" / "hotline.db").exists()  # serve's database: untouched
    assert re.search(r"hotline demo: \d+ placed, ", out)
    assert "hotline demo: callbacks: " in out


def test_the_command_line_default_rate_is_the_demos() -> None:
    assert DEMO_CALLS_PER_MINUTE == CALLS_PER_MINUTE


async def test_the_demo_serves_its_admin_pages_and_completes_callbacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files = prepare_demo_files(SHIPPED, load_config(SHIPPED, environ={}))
    overrides = {**files.overrides, **TEST_SETTINGS}
    config = load_config(files.config_dir, environ={}, overrides=overrides)
    stop = asyncio.Event()
    out = io.StringIO()
    mix = CallerMix(
        callback_digit=config.waiting.defaults.callback_digit,
        weights={Kind.CALLBACK: 3, Kind.KEYPAD: 1},
    )
    demo = asyncio.create_task(
        run_demo(
            config,
            stop=stop,
            out=out,
            rng=random.Random(5),
            time_scale=0.01,
            mix=mix,
            drain_s=20.0,
            # A full floor and a queue at once (5 agents): waiting callers ask for callbacks.
            opening_calls=30,
            calls_per_minute=1,
            config_dir=files.config_dir,
            overrides=overrides,
        )
    )
    try:
        async with asyncio.timeout(60):  # a hang guard
            while "web http" not in out.getvalue():  # noqa: ASYNC110 -- printed by the demo
                await asyncio.sleep(0.05)
            url = re.search(r"web (http://\S+/)", out.getvalue())
            password = re.search(r"web user demo-admin \(admin\) password (\S+)", out.getvalue())
            assert url is not None
            assert password is not None
            statuses = await _admin_pages(url.group(1), password.group(1))
            # Callers booked callbacks; their phones are on the trunk, so agents reach them.
            while _callbacks(files.database).get("done", 0) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        async with asyncio.timeout(60):
            traffic = await demo

    assert statuses == {
        "admin/agents": 200,
        "admin/queues": 200,
        "admin/prompts": 200,
        "admin/catalog": 200,
    }
    counts = _callbacks(files.database)
    assert counts["done"] >= 2
    lines = out.getvalue().strip().splitlines()
    assert f"hotline demo: {callback_summary(_counter(counts))}" in lines
    assert Kind.CALLBACK in traffic.tally.kinds.values()


async def _admin_pages(base: str, password: str) -> dict[str, int]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(base + "login") as response:
            page = await response.text()
        token = re.search(r'name="csrf" value="([^"]+)"', page[page.index('id="login"') :])
        assert token is not None
        form = {"name": "demo-admin", "password": password, "csrf": token.group(1), "next": "/"}
        async with http.post(base + "login", data=form) as response:
            assert response.status == 200
        statuses = {}
        for page_path in ("admin/agents", "admin/queues", "admin/prompts", "admin/catalog"):
            async with http.get(base + page_path) as response:
                statuses[page_path] = response.status
        return statuses


def _callbacks(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT status, count(*) FROM callbacks GROUP BY status").fetchall()
    return {str(status): int(count) for status, count in rows}


def _counter(counts: dict[str, int]) -> collections.Counter[str]:
    return collections.Counter(counts)

"""The admin's shell: ``hotline webhooks dead|retry|attempts`` on the configured store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.webhooks.events import make_event
from channels.webhooks.store import Attempt, NewDelivery
from history.store import create_engine, migrate
from history.webhooks import SqlDeliveryStore
from hotline.cli import main

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    directory = tmp_path / "config"
    directory.mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path}/hotline.db"
    (directory / "hotline.yaml").write_text(f"database:\n  url: {url}\n", encoding="utf-8")
    return directory


def seed(config_dir: Path, statuses: list[int]) -> list[int]:
    """One delivery per status, each after one attempt answered with it."""

    async def write() -> list[int]:
        engine = create_engine(f"sqlite+aiosqlite:///{config_dir.parent}/hotline.db")
        try:
            await migrate(engine)
            store = SqlDeliveryStore(engine)
            ids = []
            for n, status in enumerate(statuses):
                event = make_event("task.created", {"n": n}, now=T0)
                new = NewDelivery(event.id, event.type, "crm", event.body, T0, None)
                [row] = await store.add([new])
                at, answer = T0 + timedelta(seconds=n), f"HTTP {status}"
                await store.record(
                    [Attempt(row.id, 1, at, 8.0, status, None, None, status < 300, answer)]
                )
                ids.append(row.id)
            return ids
        finally:
            await engine.dispose()

    return asyncio.run(write())


def test_dead_letters_are_listed_newest_first(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone, delivered, missing = seed(config_dir, [410, 200, 404])

    assert main(["webhooks", "dead", "--config", str(config_dir)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["ID", "WEBHOOK", "EVENT"]
    assert [int(line.split()[0]) for line in lines[1:]] == [missing, gone]
    assert "HTTP 404" in lines[1]
    assert str(delivered) not in [line.split()[0] for line in lines[1:]]


def test_no_dead_letters_is_said_plainly(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["webhooks", "dead", "--config", str(config_dir)]) == 0

    assert capsys.readouterr().out == "no dead letters\n"


def test_retry_requeues_dead_letters_and_says_which_it_could_not(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone, delivered = seed(config_dir, [410, 200])

    assert main(["webhooks", "retry", str(gone), str(delivered), "--config", str(config_dir)]) == 1

    out = capsys.readouterr().out
    assert f"{gone}: re-queued for crm" in out
    assert f"{delivered}: not a dead letter" in out
    assert main(["webhooks", "dead", "--config", str(config_dir)]) == 0
    assert capsys.readouterr().out == "no dead letters\n"


def test_attempts_shows_each_try_of_a_delivery(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [gone] = seed(config_dir, [410])

    assert main(["webhooks", "attempts", str(gone), "--config", str(config_dir)]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"delivery {gone}: event evt_")
    assert out[0].endswith("to crm, dead: HTTP 410")
    assert out[1].split() == ["#1", "2026-03-02", "09:00:00.000Z", "8.0", "ms", "HTTP", "410"]
    assert main(["webhooks", "attempts", "999", "--config", str(config_dir)]) == 1

"""A YAML alias bomb in config/ (issue 16, finding 4): 1.5 KB that expands to billions of
values. ``check-config``, a SIGHUP reload and the admin editor refuse it with its line, and
the memory they take stays bounded (measured with tracemalloc, not timed)."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from hotline.app import Hotline
from hotline.cli import main
from hotline.config import load_config
from hotline.config_edit import check_candidate
from ivr.config_yaml import MAX_EXPANDED_NODES, YamlFileError, parse_yaml
from tests.hotline.test_app import write_config

T = TypeVar("T")
BOUND = 16 * 1024 * 1024


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level lists the one before nine times."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        name, before = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join(['*' + before] * 9)}]")
    return "\n".join(lines) + "\n"


def peak_memory(action: Callable[[], T]) -> tuple[T | Exception, int]:
    tracemalloc.start()
    try:
        try:
            outcome: T | Exception = action()
        except Exception as error:  # noqa: BLE001 (returned for the test to look at)
            outcome = error
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_bomb_is_small_and_refused_with_its_line_in_bounded_memory() -> None:
    bomb = alias_bomb()
    assert len(bomb) < 1600  # 9**9 = 387 million values once expanded
    outcome, peak = peak_memory(lambda: parse_yaml(bomb))
    assert isinstance(outcome, YamlFileError)
    problem = outcome.problems[0]
    assert f"aliases expand to more than {MAX_EXPANDED_NODES} values" in problem.message
    assert problem.line is not None
    assert peak < BOUND


def test_an_alias_that_contains_itself_is_refused() -> None:
    with pytest.raises(YamlFileError, match="refers to itself"):
        parse_yaml("loop: &loop [*loop]\n")


def test_a_few_aliases_still_read_as_before() -> None:
    document = parse_yaml("base: &base {level: 3}\nskills:\n  billing: *base\n  sales: *base\n")
    assert document.data["skills"] == {"billing": {"level": 3}, "sales": {"level": 3}}


def test_check_config_refuses_the_bomb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config")
    (config / "skills.yaml").write_text(alias_bomb(), encoding="utf-8")
    status, peak = peak_memory(lambda: main(["check-config", "--config", str(config)]))
    assert status == 1
    assert "skills.yaml:" in capsys.readouterr().err
    assert isinstance(status, int)
    assert peak < BOUND


async def test_a_sighup_reload_refuses_the_bomb_and_keeps_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config_dir = write_config(tmp_path / "config")
    service = Hotline(load_config(config_dir, environ={}), config_dir=config_dir, environ={})
    async with asyncio.timeout(10):
        await service.start()
    try:
        (config_dir / "queues.yaml").write_text(alias_bomb(), encoding="utf-8")
        tracemalloc.start()
        try:
            assert await service.reload() is False
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < BOUND
        assert "queues.yaml:" in caplog.text
        assert "aliases expand" in caplog.text
    finally:
        async with asyncio.timeout(10):
            await service.close()


def test_the_admin_editors_check_refuses_a_bomb_beside_the_file_it_edits(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config")
    (config / "agents.yaml").write_text(alias_bomb(), encoding="utf-8")
    outcome, peak = peak_memory(
        lambda: check_candidate(config, {"skills.yaml": "skills: [billing]\n"}, environ={})
    )
    assert not isinstance(outcome, Exception)
    errors, _ = outcome
    assert any("aliases expand" in str(e) and "agents.yaml" in str(e) for e in errors)
    assert peak < BOUND

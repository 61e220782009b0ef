"""The README's examples run as written.

Every ```sh block of README.md is run, in order, as one bash script per block, from a copy
of the repository's config/ and prompts/ (so nothing writes into the checkout), with a
started service on loopback: the `hotline` on PATH is this checkout's, and `curl` fails on
an HTTP error (as with --fail-with-body) so that a refused request fails the example. The
only change made to an example is the web port (the README says 8080; the test's service
listens on a free one). Commands in NOT_RUN are left out, each with its reason.

Each transcript (a plain ``` block whose first line is ``$ command``) is run after the setup
TRANSCRIPTS gives it, and its output must be the README's, line for line.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hotline.app import Hotline
from hotline.config import load_config

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_URL = "http://127.0.0.1:8080"
#: Shell examples not run here, and why (matched at the start of a command).
NOT_RUN = {
    "make demo": "runs until stopped; the demo is tested in tests/hotline/test_demo*.py",
    "make test": "runs this whole suite, this test included",
}
#: A fenced block: its info string (``sh``, or empty) and its lines.
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Example:
    line: int  # where the block starts in README.md
    commands: tuple[str, ...]  # continuation lines joined


def shell_examples(text: str) -> list[Example]:
    examples = []
    for match in _FENCE.finditer(text):
        if match[1] != "sh":
            continue
        line = text.count("\n", 0, match.start()) + 1
        joined = match[2].replace("\\\n", " ")
        commands = tuple(c for c in joined.splitlines() if c.strip())
        examples.append(Example(line, commands))
    return examples


def transcripts(text: str) -> list[tuple[int, str, list[str]]]:
    """(line, command, expected output lines) of each ``$ command`` block."""
    found = []
    for match in _FENCE.finditer(text):
        lines = match[2].splitlines()
        if match[1] == "" and lines and lines[0].startswith("$ "):
            line = text.count("\n", 0, match.start()) + 1
            found.append((line, lines[0][2:], lines[1:]))
    return found


def _not_run(command: str) -> str | None:
    for prefix, reason in NOT_RUN.items():
        if command.strip().startswith(prefix):
            return reason
    return None


@dataclass
class Site:
    """A copy of the repository's files the examples use, and the environment to run in."""

    directory: Path
    env: dict[str, str]

    async def run(self, script: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            "set -eo pipefail\n" + script,
            cwd=self.directory,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with asyncio.timeout(300):  # a hang guard
            out, _ = await process.communicate()
        return process.returncode or 0, out.decode("utf-8", "replace")


def _executable(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    directory = tmp_path / "site"
    shutil.copytree(ROOT / "config", directory / "config")
    shutil.copytree(ROOT / "prompts", directory / "prompts", symlinks=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "hotline", f'#!/bin/sh\nexec "{sys.executable}" -m hotline.cli "$@"\n')
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    _executable(
        bin_dir / "curl", f'#!/bin/sh\nexec "{curl}" --silent --show-error --fail-with-body "$@"\n'
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HOTLINE_") and key != "PYTHONPATH"
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)  # this checkout's packages
    return Site(directory, env)


@pytest.fixture
async def service(site: Site) -> AsyncIterator[Hotline]:
    """`hotline serve` on the site's config: its web server on a free port, its store the
    one the site's commands use (config/hotline.yaml's var/hotline.db, under the site)."""
    overrides: dict[str, object] = {
        "web.port": 0,
        "fastagi.port": 0,
        "ami.port": 1,  # no Asterisk here: the web API does not need one
        "speech.enabled": False,
        "database.url": f"sqlite+aiosqlite:///{site.directory / 'var' / 'hotline.db'}",
        "database.spool": str(site.directory / "var" / "history-spool.jsonl"),
    }
    config = load_config(site.directory / "config", environ={}, overrides=overrides)
    hotline = Hotline(config)
    async with asyncio.timeout(30):
        await hotline.start()
    try:
        yield hotline
    finally:
        async with asyncio.timeout(30):
            await hotline.close()


def test_the_readme_has_examples_to_run() -> None:
    examples = shell_examples(README.read_text(encoding="utf-8"))
    commands = [c for e in examples for c in e.commands]
    assert any(c.startswith("curl ") for c in commands)
    assert any(c.startswith("hotline check-config") for c in commands)
    assert any(c.startswith("hotline simulate") for c in commands)
    assert any(c.startswith("hotline intents classify") for c in commands)
    assert any("hotline token create" in c for c in commands)
    skipped = {prefix for prefix in NOT_RUN if any(c.startswith(prefix) for c in commands)}
    assert skipped == set(NOT_RUN), "NOT_RUN names a command the README no longer has"


@pytest.mark.slow
async def test_every_shell_example_of_the_readme_runs(site: Site, service: Hotline) -> None:
    url = service.web.url.rstrip("/")
    for example in shell_examples(README.read_text(encoding="utf-8")):
        script = "\n".join(c for c in example.commands if _not_run(c) is None)
        if not script:
            continue
        status, output = await site.run(script.replace(README_URL, url))
        assert status == 0, f"README.md:{example.line}: the example failed:\n{output}"


def _break_the_config(site: Site) -> None:
    """What the check-config transcript shows: an AMI port out of range and a misspelt key."""
    hotline_yaml = site.directory / "config" / "hotline.yaml"
    text = hotline_yaml.read_text(encoding="utf-8")
    assert text.count("port: 5038") == 1
    hotline_yaml.write_text(text.replace("port: 5038", "port: 65536"), encoding="utf-8")
    queues = site.directory / "config" / "queues.yaml"
    lines = queues.read_text(encoding="utf-8").splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.strip().startswith("strategy:"))
    lines[first] = lines[first].replace("strategy:", "stratgy:")
    queues.write_text("".join(lines), encoding="utf-8")


#: Each transcript's command, and what makes the site show that output.
TRANSCRIPTS: dict[str, Callable[[Site], None]] = {
    "hotline check-config --config config": _break_the_config,
}


async def test_every_transcript_of_the_readme_is_what_the_command_prints(site: Site) -> None:
    found = transcripts(README.read_text(encoding="utf-8"))
    assert {command for _, command, _ in found} == set(TRANSCRIPTS)
    for line, command, expected in found:
        TRANSCRIPTS[command](site)
        _, output = await site.run(command)
        assert output.splitlines() == expected, f"README.md:{line}"

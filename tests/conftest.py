"""One real Asterisk per test session (tests/asterisk/rig.py), skipped with the reason when
this machine has no bundle, no core sounds or no SIPp."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.asterisk.rig import Asterisk, BundleMissing, start_asterisk
from tests.asterisk.sipp import SIPP


@pytest.fixture(scope="session")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Asterisk]:
    if SIPP is None:
        pytest.skip("sipp is not installed: run scripts/system-deps.sh (Debian sip-tester)")
    try:
        running = start_asterisk(tmp_path_factory.mktemp("asterisk"))
    except BundleMissing as missing:
        pytest.skip(str(missing))
    running.cli("agi set debug on")  # every AGI line in its log, for a failing test's reader
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def pbx(asterisk: Asterisk) -> Iterator[Asterisk]:
    """The session's Asterisk, left with no call by the test before (nor after this one).
    An ERROR Asterisk logs during the test fails it (in teardown)."""
    before = len(asterisk.log())
    yield asterisk
    errors = asterisk.errors(since=before)
    if asterisk.channels():
        asterisk.cli("channel request hangup all")
        deadline = time.monotonic() + 5
        while asterisk.channels() and time.monotonic() < deadline:
            time.sleep(0.1)
    assert errors == [], "Asterisk logged an ERROR during the test"


@pytest.fixture
def sip_dir(tmp_path: Path) -> Path:
    """Where this test's SIPp scenarios and logs go."""
    directory = tmp_path / "sipp"
    directory.mkdir()
    return directory

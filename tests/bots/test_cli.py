"""``hotline bots`` is a command of the hotline CLI, and says what it ran."""

from __future__ import annotations

import pytest

from hotline.cli import main


def test_hotline_bots_is_a_command_that_needs_an_asterisk(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["bots", "--callers", "2"])
    assert refused.value.code == 2
    assert "--asterisk" in capsys.readouterr().err


def test_a_bad_caller_script_is_refused_before_any_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bots", "--asterisk", "192.0.2.1", "--script", "dance:1"]) == 2
    assert "wait:S, say:FILE.wav or press:DIGITS" in capsys.readouterr().err

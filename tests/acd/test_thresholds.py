"""Thresholds on a queue's live figures: levels, where a band comes from, and bad bands
refused with the file's line, as ``hotline check-config`` says them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from acd.policy import QueuesConfig
from acd.thresholds import DEFAULT_BANDS, Band, Level
from hotline.config import ConfigError, load_config

SHIPPED = Path(__file__).resolve().parents[2] / "config"


def test_service_level_is_worse_when_lower_and_waits_when_higher() -> None:
    sl = Band(0.8, 0.7)
    assert sl.level(0.95, lower_is_worse=True) is Level.OK
    assert sl.level(0.8, lower_is_worse=True) is Level.WARN
    assert sl.level(0.65, lower_is_worse=True) is Level.CRIT
    wait = Band(60, 120)
    assert wait.level(59.9, lower_is_worse=False) is Level.OK
    assert wait.level(60, lower_is_worse=False) is Level.WARN
    assert wait.level(300, lower_is_worse=False) is Level.CRIT


def test_a_figure_that_does_not_exist_yet_is_ok() -> None:
    assert Band(0.8, 0.7).level(None, lower_is_worse=True) is Level.OK


def test_a_band_comes_from_the_most_specific_place_that_gives_it() -> None:
    config = QueuesConfig.model_validate(
        {
            "thresholds": {
                "longest_wait_s": {"warn": 50, "crit": 100},
                "channels": {"email": {"longest_wait_s": {"warn": 3600, "crit": 7200}}},
            },
            "queues": {
                "vip": {
                    "thresholds": {
                        "longest_wait_s": {"warn": 10, "crit": 20},
                        "waiting": {},  # turned off in this queue
                        "channels": {"chat": {"longest_wait_s": {"warn": 30, "crit": 40}}},
                    }
                },
                "plain": {},
            },
        }
    )
    table = config.threshold_table()
    assert table.bands("vip", "voice")["longest_wait_s"] == Band(10, 20)  # the queue's own
    assert table.bands("vip", "chat")["longest_wait_s"] == Band(30, 40)  # its channel's
    assert table.bands("vip", "email")["longest_wait_s"] == Band(3600, 7200)  # the file's channel
    assert table.bands("plain", "voice")["longest_wait_s"] == Band(50, 100)  # the file's
    assert table.bands("plain", "voice")["service_level"] == DEFAULT_BANDS["service_level"]
    assert table.level("vip", "voice", "waiting", 10_000) is Level.OK  # off
    assert table.level("plain", "voice", "waiting", 10_000) is Level.CRIT


@pytest.mark.parametrize(
    ("band", "reason"),
    [
        ({"service_level": {"warn": 0.7, "crit": 0.8}}, "must not be above warn"),
        ({"longest_wait_s": {"warn": 120, "crit": 60}}, "must not be below warn"),
        ({"abandon_rate": {"warn": 5, "crit": 10}}, "between 0 and 1"),
        ({"waiting": {"warn": -1}}, "greater than or equal to 0"),
        ({"channels": {"all": {}}}, "every channel"),
    ],
)
def test_bands_out_of_order_or_range_are_refused(band: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        QueuesConfig.model_validate({"thresholds": band})


def test_check_config_names_the_file_and_line_of_a_bad_threshold(tmp_path: Path) -> None:
    (tmp_path / "hotline.yaml").write_text("fastagi:\n  port: 4573\n", encoding="utf-8")
    (tmp_path / "queues.yaml").write_text(
        "queues:\n  retention:\n    thresholds:\n      longest_wait_s: {warn: 30, crit: 6}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, environ={})
    (issue,) = caught.value.issues
    assert issue.file == str(tmp_path / "queues.yaml")
    assert (issue.line, issue.path) == (3, "queues.retention.thresholds")
    assert "longest_wait_s: crit (6) must not be below warn" in issue.message


def test_the_shipped_queues_give_retention_its_own_sooner_thresholds() -> None:
    table = load_config(SHIPPED, environ={}).queues.threshold_table()
    assert table.bands("retention", "voice")["longest_wait_s"] == Band(30, 60)
    assert table.bands("support", "voice")["longest_wait_s"] == Band(60, 120)
    assert table.bands("support", "email")["longest_wait_s"] == Band(7200, 14400)

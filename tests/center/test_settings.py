"""waiting.yaml: defaults merged into each queue, overflow targets checked, prompts found."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from center.settings import WaitingConfig, check_waiting_config
from center.waiting import recorded_or_core
from ivr.prompts import PromptStore


def test_a_queue_overrides_only_the_keys_it_names() -> None:
    config = WaitingConfig.model_validate(
        {
            "defaults": {"max_wait_s": 300, "announce": {"every_s": 45, "position": False}},
            "queues": {"billing": {"announce": {"every_s": 90}}},
        }
    )
    billing, other = config.policy("billing"), config.policy("support")
    assert (billing.announce.every_s, billing.announce.position, billing.max_wait_s) == (
        90,
        False,
        300,
    )
    assert other.announce.every_s == 45


def test_an_overflow_to_a_queue_must_name_it() -> None:
    with pytest.raises(ValidationError, match="queue"):
        WaitingConfig.model_validate({"defaults": {"on_max_wait": {"action": "queue"}}})
    with pytest.raises(ValidationError, match="queue"):
        WaitingConfig.model_validate(
            {"defaults": {"on_empty": {"action": "hangup", "queue": "billing"}}}
        )


def test_unknown_keys_and_bad_callback_digits_are_refused() -> None:
    with pytest.raises(ValidationError):
        WaitingConfig.model_validate({"defaults": {"callback_digit": "12"}})
    with pytest.raises(ValidationError):
        WaitingConfig.model_validate({"defaults": {"max_wait": 30}})


def test_names_must_exist_in_queues_yaml_and_circular_overflow_is_a_warning() -> None:
    config = WaitingConfig.model_validate(
        {
            "default_queue": "sales",
            "queues": {
                "support": {
                    "max_wait_s": 60,
                    "on_max_wait": {"action": "queue", "queue": "billing"},
                },
                "billing": {
                    "max_wait_s": 60,
                    "on_max_wait": {"action": "queue", "queue": "support"},
                },
                "retention": {"on_empty": {"action": "queue", "queue": "gone"}},
            },
        }
    )
    issues = check_waiting_config(config, {"support": None, "billing": None})
    errors = sorted(i.path for i in issues if i.severity == "error")
    assert errors == ["default_queue", "queues.retention", "queues.retention.on_empty.queue"]
    warnings = [i.message for i in issues if i.severity == "warning"]
    assert len(warnings) == 2  # seen from either queue
    assert "support -> billing -> support" in warnings[0]


def test_a_waiting_prompt_is_ours_when_recorded_in_that_language_else_asterisks(
    tmp_path: Path,
) -> None:
    store = PromptStore(tmp_path, "/var/lib/hotline/prompts", frozenset({"beep"}))
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "press-1-for-a-callback.wav").write_bytes(b"RIFF")
    resolve = recorded_or_core(lambda: store)

    assert resolve("press-1-for-a-callback", "en") == (
        "/var/lib/hotline/prompts/en/press-1-for-a-callback"
    )
    assert resolve("press-1-for-a-callback", "fr") == "press-1-for-a-callback"
    assert resolve("queue-youarenext", "en") == "queue-youarenext"

"""The recording policy (center.recording_policy): which calls are recorded, what the caller
is told, which key opts out, how long it is kept; and the config checks check-config runs."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from center.recording_policy import RecordingSettings, decide, expires_at, opted_out
from hotline.config import ConfigError, load_config
from telephony.recording_actions import mix_monitor, pause_recording, recording_name

ROOT = Path(__file__).resolve().parents[2]

POLICY = RecordingSettings.model_validate(
    {
        "mode": "off",
        "retention_days": 90,
        "consent": {"prompt": "recording-consent", "opt_out_key": "9", "wait_s": 2},
        "queues": {
            "billing": {"mode": "record", "retention_days": 30},
            "sales": {"mode": "record", "consent": {"prompt": "sales-consent", "opt_out_key": "*"}},
        },
        "intents": {"card_payment": {"mode": "off"}, "complaint": {"mode": "record"}},
    }
)


def test_a_queue_rule_records_its_calls_with_its_own_retention() -> None:
    billing = decide(POLICY, queue="billing", intent=None)
    assert (billing.record, billing.retention_days, billing.rule) == (True, 30, "queue billing")
    assert (billing.prompt, billing.opt_out_key, billing.asks_consent) == (
        "recording-consent",
        "9",
        True,
    )
    support = decide(POLICY, queue="support", intent=None)
    assert (support.record, support.rule) == (False, "defaults")


def test_an_intent_rule_wins_over_its_queue_field_by_field() -> None:
    card = decide(POLICY, queue="billing", intent="card_payment")
    assert (card.record, card.rule) == (False, "intent card_payment")
    complaint = decide(POLICY, queue="support", intent="complaint")
    assert (complaint.record, complaint.retention_days) == (True, 90)  # the defaults' days
    in_billing = decide(POLICY, queue="billing", intent="complaint")
    assert (in_billing.record, in_billing.retention_days) == (True, 30)  # the queue's days
    sales = decide(POLICY, queue="sales", intent="complaint")
    assert (sales.prompt, sales.opt_out_key) == ("sales-consent", "*")


def test_outbound_calls_are_never_recorded() -> None:
    callback = decide(POLICY, queue="billing", intent=None, direction="out")
    assert (callback.record, callback.rule) == (False, "outbound call")


def test_only_the_opt_out_key_opts_out() -> None:
    billing = decide(POLICY, queue="billing", intent=None)
    assert opted_out(billing, "9")
    assert not opted_out(billing, "1")
    assert not opted_out(billing, "")
    silent = decide(
        RecordingSettings.model_validate({"mode": "record", "consent": {"opt_out_key": None}}),
        queue=None,
        intent=None,
    )
    assert not opted_out(silent, "9")


def test_retention_ends_the_given_days_after_the_start() -> None:
    start = dt.datetime(2027, 1, 31, 12, tzinfo=dt.UTC)
    assert expires_at(start, 30) == dt.datetime(2027, 3, 2, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"mode": "sometimes"}, "Input should be 'off' or 'record'"),
        ({"directory": "recordings"}, "an absolute path"),
        ({"directory": "/var/rec,b(x)"}, "letters, digits and _./+- only"),
        ({"directory": "/var/../etc"}, "no '..'"),
        ({"format": "mp3"}, "Input should be 'wav'"),
        ({"retention_days": 0}, "greater than 0"),
        ({"consent": {"opt_out_key": "99"}}, "should match pattern"),
        ({"consent": {"prompt": None}}, "opt_out_key needs the prompt"),
        ({"consent": {"prompt": "../../etc/passwd"}}, "is not a prompt name"),
        ({"queues": {"billing": {"mode": "record", "colour": "red"}}}, "Extra inputs"),
    ],
)
def test_a_bad_policy_is_refused_with_the_reason(settings: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(reason)):
        RecordingSettings.model_validate(settings)


def test_yaml_off_and_on_read_as_modes() -> None:
    assert RecordingSettings.model_validate({"mode": False}).mode == "off"
    assert RecordingSettings.model_validate({"mode": True}).mode == "record"


def test_check_config_names_unknown_queues_and_intents_with_file_and_key(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    (tmp_path / "prompts").symlink_to(ROOT / "prompts")
    hotline = config / "hotline.yaml"
    text = hotline.read_text()
    text = text.replace("  queues: {}", "  queues: {biling: {mode: record}}")
    text = text.replace("  intents: {}", "  intents: {refnd: {mode: off}}")
    hotline.write_text(text)

    with pytest.raises(ConfigError) as refused:
        load_config(config, environ={})

    told = sorted(str(issue) for issue in refused.value.issues)
    assert told == [
        f"{hotline}: recording.intents.refnd: not an intent in intents.yaml",
        f"{hotline}: recording.queues.biling: not a queue in queues.yaml",
    ]


def test_the_shipped_config_records_nothing_until_asked_and_then_asks_consent() -> None:
    shipped = load_config(ROOT / "config", environ={}).recording
    for queue in ("support", "billing", "retention"):
        assert not decide(shipped, queue=queue, intent=None).record
    turned_on = shipped.model_copy(update={"mode": "record"})
    billing = decide(turned_on, queue="billing", intent=None)
    assert (billing.record, billing.prompt, billing.opt_out_key) == (
        True,
        "recording-consent",
        "9",
    )
    for language in ("en", "ar"):  # the announcement exists in every flow language
        assert (ROOT / "prompts" / language / "recording-consent.wav").is_file()


def test_mixmonitor_gets_only_a_safe_absolute_path() -> None:
    command = mix_monitor("/var/spool/rec/1700000000.42.wav")
    assert (command.app, command.data) == ("MixMonitor", "/var/spool/rec/1700000000.42.wav,b")
    for bad in ("rec.wav", "/var/rec,x.wav", "/var/${EVIL}.wav", "/var/../etc/x.wav", "/a b.wav"):
        with pytest.raises(ValueError, match="not a recording path"):
            mix_monitor(bad)
    assert recording_name("1700000000.42", "wav") == "1700000000.42.wav"
    assert recording_name("../x/y;z", "wav") == "_x_y_z.wav"


def test_pausing_mutes_both_directions_of_one_named_channel() -> None:
    action = pause_recording("PJSIP/trunk-00000001", paused=True)
    assert (action.name, action.fields) == (
        "MixMonitorMute",
        (("Channel", "PJSIP/trunk-00000001"), ("Direction", "both"), ("State", "1")),
    )
    assert pause_recording("PJSIP/trunk-00000001", paused=False).fields[-1] == ("State", "0")
    with pytest.raises(ValueError, match="not one channel"):
        pause_recording("/PJSIP/.*/", paused=True)

"""Threshold alerts on the supervisor's snapshot: raised when a figure crosses a level, with
since when; escalated; cleared when it is back; every queue and channel coloured."""

from __future__ import annotations

from typing import Any

from acd.policy import QueuesConfig
from hotline.web.supervisor.alerts import ThresholdWatch

CONFIG = QueuesConfig.model_validate(
    {
        "thresholds": {
            "waiting": {"warn": 2, "crit": 4},
            "channels": {"email": {"longest_wait_s": {"warn": 3600, "crit": 7200}}},
        },
        "queues": {"support": {}, "billing": {}},
    }
)


def queue(name: str, **channels: dict[str, Any]) -> dict[str, Any]:
    """A snapshot's queue: live figures per channel, and today's (none yet)."""
    return {"name": name, "by_channel": channels, "channels": {}}


def watch() -> ThresholdWatch:
    table = CONFIG.threshold_table()
    return ThresholdWatch(lambda: table)


def test_every_queue_is_coloured_per_channel_with_its_band() -> None:
    queues = [
        queue("support", voice={"waiting": 3, "longest_wait_s": 30.0}),
        queue("billing", email={"waiting": 1, "longest_wait_s": 4000.0}),
    ]
    alerts = watch().apply(queues, 1000.0)
    support, billing = queues
    assert support["level"] == "warn"
    assert support["thresholds"]["voice"]["waiting"] == {
        "value": 3,
        "level": "warn",
        "warn": 2,
        "crit": 4,
    }
    assert support["thresholds"]["voice"]["service_level"]["level"] == "ok"  # none answered yet
    # an e-mail waiting an hour is a warning where a call's minute is already critical
    assert billing["thresholds"]["email"]["longest_wait_s"]["level"] == "warn"
    assert billing["thresholds"]["voice"]["longest_wait_s"]["level"] == "ok"
    assert [(a["queue"], a["channel"], a["metric"], a["level"]) for a in alerts["active"]] == [
        ("support", "voice", "waiting", "warn"),
        ("billing", "email", "longest_wait_s", "warn"),
    ]


def test_an_alert_keeps_since_when_it_escalates_and_clears_when_back() -> None:
    w = watch()
    first = w.apply([queue("support", voice={"waiting": 2, "longest_wait_s": 1.0})], 100.0)
    (raised,) = first["active"]
    assert (raised["level"], raised["since"], raised["limit"]) == ("warn", 100.0, 2)
    worse = w.apply([queue("support", voice={"waiting": 5, "longest_wait_s": 2.0})], 160.0)
    (escalated,) = worse["active"]
    assert (escalated["level"], escalated["since"], escalated["level_since"]) == (
        "crit",
        100.0,
        160.0,
    )
    assert escalated["value"] == 5
    assert escalated["limit"] == 4
    still = w.apply([queue("support", voice={"waiting": 5, "longest_wait_s": 3.0})], 170.0)
    assert still["active"][0]["level_since"] == 160.0  # not raised again
    back = w.apply([queue("support", voice={"waiting": 1, "longest_wait_s": 1.0})], 200.0)
    assert back["active"] == []
    (cleared,) = back["cleared"]
    assert (cleared["metric"], cleared["since"], cleared["cleared_at"]) == ("waiting", 100.0, 200.0)


def test_a_queue_gone_from_the_snapshot_clears_its_alerts() -> None:
    w = watch()
    w.apply([queue("support", voice={"waiting": 9, "longest_wait_s": 1.0})], 1.0)
    after = w.apply([], 2.0)
    assert after["active"] == []
    assert after["cleared"][0]["queue"] == "support"


def test_today_figures_are_judged_too() -> None:
    queues = [
        {
            "name": "support",
            "by_channel": {},
            "channels": {"voice": {"service_level": 0.65, "abandon_rate": 0.06}},
        }
    ]
    alerts = watch().apply(queues, 5.0)
    levels = {a["metric"]: a["level"] for a in alerts["active"]}
    assert levels == {"service_level": "crit", "abandon_rate": "warn"}

"""agents.yaml's desk rules as the service applies them: pause reasons and their limits,
disposition codes (a queue's own first), canned replies per language with their
placeholders; a pause counted once however it lands, and the hold of the current call."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from acd.agent_day import AgentDay
from acd.agent_events import AgentState
from acd.agents import AgentView
from acd.events import AgentStateChanged, CallHoldChanged, EventRecord, PauseCounted
from acd.policy import AgentsConfig, QueuesConfig

DAY = dt.date(2026, 12, 6)


def _rules(**more: object) -> AgentsConfig:
    return AgentsConfig.model_validate(
        {
            "pause_reasons": {"break": {"max_s": 900, "per_day": 2}, "training": {}},
            "dispositions": ["resolved", "escalated"],
            "canned_responses": {
                "hi": {"en": "Hi {customer_name}, {agent_name} here", "ar": "أهلًا {customer_name}"}
            },
            **more,
        }
    )


def test_a_reason_past_its_daily_count_or_not_configured_is_refused() -> None:
    rules = _rules().desk_rules()
    assert rules.pause_refusal("break", 1) is None
    assert (
        rules.pause_refusal("break", 2)
        == "break may be taken 2 times a day, and you have taken it today"
    )
    assert rules.pause_refusal("training", 50) is None
    assert "not a pause reason" in (rules.pause_refusal("nap", 0) or "")
    assert rules.pause_over("break", 901)
    assert not rules.pause_over("break", 899)
    assert not rules.pause_over("training", 10**6)
    # nothing configured: any reason, said in words
    free = AgentsConfig().desk_rules()
    assert free.pause_refusal("nap", 99) is None
    assert free.pause_refusal("  ", 0) == "say why you pause"


def test_a_queue_with_its_own_codes_refuses_the_others() -> None:
    queues = QueuesConfig.model_validate(
        {"queues": {"support": {}, "retention": {"dispositions": ["saved", "cancelled"]}}}
    )
    rules = _rules().desk_rules(queues)
    assert rules.dispositions_for("support") == ("resolved", "escalated")
    assert rules.dispositions_for("retention") == ("saved", "cancelled")
    assert rules.disposition_refusal("retention", "resolved") is not None
    assert rules.disposition_refusal("retention", "saved") is None
    assert rules.disposition_refusal("support", None) is None
    assert AgentsConfig().desk_rules().disposition_refusal(None, "anything at all") is None


def test_canned_replies_come_in_the_customer_language_filled() -> None:
    rules = _rules().desk_rules()
    values = {"customer_name": "Nadia", "agent_name": "Ann", "queue": "support"}
    assert rules.canned_for("ar", values) == [{"key": "hi", "text": "أهلًا Nadia"}]
    assert rules.canned_for("fr", values) == [{"key": "hi", "text": "Hi Nadia, Ann here"}]
    # an unknown name is left out, not printed as a placeholder
    assert rules.canned_for("en", {"agent_name": "Ann"}) == [{"key": "hi", "text": "Hi , Ann here"}]


@pytest.mark.parametrize(
    ("more", "says"),
    [
        ({"canned_responses": {"hi": {"en": "Hi {name}"}}}, "unknown placeholder {name}"),
        ({"canned_responses": {"hi": {"en": "Hi {customer_name"}}}, "hi.en"),
        ({"canned_responses": {"hi": {}}}, "no text in any language"),
        ({"pause_reasons": {"no answer": {}}}, "the system's own pause reason"),
        ({"pause_reasons": {"disconnected": {}}}, "the system's own pause reason"),
        ({"pause_reasons": {"break": {"per_day": 0}}}, "greater than or equal to 1"),
        ({"dispositions": ["resolved", "resolved"]}, "appears twice"),
        ({"dispositions": ["Resolved!"]}, "should match pattern"),
    ],
)
def test_check_config_refuses_bad_desk_rules(more: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=says.replace("{", r"\{").replace("}", r"\}")):
        _rules(**more)


def _view(reason: str | None, since: float) -> AgentView:
    return AgentView("a", AgentState.PAUSED, since, reason, None, None, 0, None, 0, None, 0.0)


def test_a_pause_the_agent_asked_for_is_counted_once_and_the_count_is_per_day() -> None:
    day = AgentDay()
    seq = iter(range(1, 100))

    def saw(event: AgentStateChanged | PauseCounted, at: float, since: float | None) -> None:
        """As the service does: a ``PauseCounted`` said is logged, then folded."""
        view = (lambda _: None) if since is None else (lambda _: _view("break", since))
        counted = day.saw(EventRecord(next(seq), at, event), view, DAY)
        if counted is not None:
            assert day.saw(EventRecord(next(seq), at, counted), view, DAY) is None

    paused = AgentStateChanged("a", "available", "paused", "pause", "paused: break")
    # a supervisor's pause (the agent did not ask): not theirs to count
    saw(paused, 5.0, 5.0)
    assert day.taken("a", "break", DAY) == 0
    day.asked("a", "break")
    saw(paused, 10.0, 10.0)
    # the same pause seen again (a detail changed, not a new pause): not counted twice
    saw(paused, 11.0, 10.0)
    assert day.taken("a", "break", DAY) == 1
    day.asked("a", "break")
    saw(paused, 20.0, 20.0)
    assert day.taken("a", "break", DAY) == 2
    # asked during a call, then taken back (Ready): a later pause of it is not theirs
    day.asked("a", "break")
    saw(AgentStateChanged("a", "on_call", "on_call", "ready", "pending cancelled"), 30.0, None)
    saw(paused, 40.0, 40.0)
    assert day.taken("a", "break", DAY) == 2
    assert day.taken("a", "break", DAY + dt.timedelta(days=1)) == 0
    assert day.taken("b", "break", DAY) == 0
    # an earlier run's count, read back from the event log, is the same fold
    day.count("a", "lunch", DAY)
    assert (day.taken("a", "lunch", DAY), day.taken("a", "break", DAY)) == (1, 2)


def test_the_hold_of_the_current_call_adds_up_and_ends_with_the_call() -> None:
    day = AgentDay()
    view = lambda _: None  # noqa: E731
    day.saw(EventRecord(1, 100.0, CallHoldChanged("c1", "a", True)), view, DAY)
    held = day.hold("a", "c1", 110.0)
    assert (held.current_s, held.total_s) == (10.0, 10.0)
    day.saw(EventRecord(2, 115.0, CallHoldChanged("c1", "a", False)), view, DAY)
    day.saw(EventRecord(3, 120.0, CallHoldChanged("c1", "a", True)), view, DAY)
    held = day.hold("a", "c1", 121.0)
    assert (held.current_s, held.total_s) == (1.0, 16.0)
    assert day.hold("a", "other call", 121.0).total_s == 0.0
    ended = AgentStateChanged("a", "on_call", "wrap_up", "hung_up", "call ended", "c1")
    day.saw(EventRecord(4, 130.0, ended), view, DAY)
    assert day.hold("a", "c1", 131.0).current_s is None

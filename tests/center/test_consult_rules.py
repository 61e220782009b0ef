"""The pure rules of consulting a colleague (center/consult.py) and the AMI actions it sends
(telephony/call_actions.py)."""

from __future__ import annotations

import pytest

from acd.agent_events import AgentState
from acd.agents import AgentView
from acd.skills import Requirement
from center.consult import (
    SETTLE_S,
    Consult,
    ConsultPhase,
    Consults,
    colleagues,
    consult_refusal,
    step_refusal,
)
from telephony.call_actions import cancel_consult, consult, consult_target, keys_received

S = AgentState


def view(agent_id: str, state: AgentState, call_id: str | None = None) -> AgentView:
    channel = f"PJSIP/agent{agent_id}-00000001" if call_id else None
    return AgentView(agent_id, state, 0.0, None, call_id, channel, 0, None, 0, None, 0.0)


ME = view("1001", S.ON_CALL, "1700000000.1")


def test_colleagues_with_the_calls_skills_are_listed_available_first_then_by_level() -> None:
    skills = {
        "1001": {"internet": 2},
        "1002": {"internet": 1},  # below the requirement
        "1003": {"internet": 5},  # the most skilled, but busy
        "1004": {"internet": 3},
        "1005": {"internet": 4},
        "1006": {"internet": 9},  # logged out
        "1007": {"billing": 5},  # no internet
    }
    views = [
        ME,
        view("1002", S.AVAILABLE),
        view("1003", S.ON_CALL, "1700000000.2"),
        view("1004", S.AVAILABLE),
        view("1005", S.AVAILABLE),
        view("1006", S.LOGGED_OUT),
        view("1007", S.AVAILABLE),
    ]
    found = colleagues("1001", Requirement.of({"internet": 2}), skills, {"1005": "Eve"}, views)
    assert [(c.agent_id, c.level, c.available, c.state) for c in found] == [
        ("1005", 4, True, "available"),
        ("1004", 3, True, "available"),
        ("1003", 5, False, "on_call"),
    ]
    assert found[0].name == "Eve"
    # a call without a requirement: every logged-in colleague, levels 0
    everyone = colleagues("1001", None, skills, {}, views)
    assert [c.agent_id for c in everyone] == ["1002", "1004", "1005", "1007", "1003"]


def test_who_may_be_consulted() -> None:
    def refusal(colleague: str, state: AgentState | None, **kw: object) -> str | None:
        target = None if state is None else view(colleague, state)
        args: dict[str, object] = {"endpoint": "PJSIP/agent" + colleague, "under_way": None}
        args.update(kw)
        return consult_refusal(ME, colleague, target, **args)  # type: ignore[arg-type]

    assert refusal("1002", S.AVAILABLE) is None
    assert refusal("1002", S.PAUSED) is None  # a paused expert may still be asked
    assert refusal("1001", S.ON_CALL) == "an agent cannot consult themselves"
    assert refusal("1009", None) == "no agent '1009'"
    assert refusal("1002", S.AVAILABLE, endpoint="") == "agent 1002 has no phone"
    assert refusal("1002", S.LOGGED_OUT) == "agent 1002 is not logged in"
    assert refusal("1002", S.ON_CALL) == "agent 1002 is busy (on_call)"
    assert refusal("1002", S.OFFERED) == "agent 1002 is busy (offered)"
    under_way = Consult("1700000000.1", "1001", "1003", reserved=True)
    assert refusal("1002", S.AVAILABLE, under_way=under_way) == (
        "a consult with agent 1003 is already under way"
    )
    assert refusal("1002", S.AVAILABLE, since_cancel_s=SETTLE_S / 2) is not None
    assert refusal("1002", S.AVAILABLE, since_cancel_s=SETTLE_S) is None


def test_steps_need_a_consult_still_consulting() -> None:
    consulting = Consult("c", "1001", "1002", reserved=True)
    assert step_refusal(None, "complete") == "no consult under way"
    assert step_refusal(consulting, "complete") is None
    assert step_refusal(consulting, "conference") is None
    conference = Consult("c", "1001", "1002", reserved=True, phase=ConsultPhase.CONFERENCE)
    assert step_refusal(conference, "cancel") == "the consult is already a conference call"
    assert step_refusal(consulting, "swap") == "no such step: 'swap'"


def test_the_registry_knows_the_reserved_colleague_until_completed() -> None:
    consults = Consults()
    started = Consult("c1", "1001", "1002", reserved=True)
    consults.start(started)
    with pytest.raises(ValueError, match="already has a consult"):
        consults.start(started)
    assert consults.of_colleague("1002") == started
    assert consults.completed("c1") is None
    done = Consult("c1", "1001", "1002", True, ConsultPhase.COMPLETED, segment="c1-t1")
    consults.update(done)
    assert consults.of_colleague("1002") is None
    assert consults.completed("c1") == done
    assert done.target == "agent 1002 (consulted)"
    assert consults.end("c1") == done
    assert list(consults) == []


def test_the_consult_actions_are_atxfer_cancelatxfer_and_received_keys() -> None:
    leg = "PJSIP/agent1001-00000001"
    assert consult_target(leg, "PJSIP/agent1002").fields == (
        ("Channel", leg),
        ("Variable", "_HOTLINE_CONSULT_ENDPOINT"),
        ("Value", "PJSIP/agent1002"),
    )
    assert consult(leg).name == "Atxfer"
    assert consult(leg).as_kwargs() == {
        "Channel": leg,
        "Exten": "1",
        "Context": "hotline-consult",
    }
    assert cancel_consult(leg).name == "CancelAtxfer"
    keys = keys_received(leg, "*2")
    assert [(a.name, a.as_kwargs()["Digit"], a.as_kwargs()["Receive"]) for a in keys] == [
        ("PlayDTMF", "*", "yes"),
        ("PlayDTMF", "2", "yes"),
    ]
    for bad in ("", "*x"):
        with pytest.raises(ValueError, match="not DTMF keys"):
            keys_received(leg, bad)
    with pytest.raises(ValueError, match="not one endpoint"):
        consult_target(leg, "PJSIP/a&PJSIP/b")
    with pytest.raises(ValueError, match="not one channel"):
        consult("/PJSIP/.*/")

"""The pure rules of an agent's call control (center/call_control.py) and the AMI actions it
sends (telephony/call_actions.py)."""

from __future__ import annotations

import pytest

from acd.agent_events import AgentState
from acd.agents import AgentView
from acd.calls import CallFacts, IncomingCall
from acd.contacts import call_of, segment_id, segment_number
from center.call_control import (
    HOLD_SETTLE_S,
    NOT_ON_A_CALL,
    DeskHold,
    PendingTransfers,
    Transfer,
    TransferRefused,
    control_refusal,
    hold_refusal,
    on_hold_refusal,
    requeued,
    resume_refusal,
    transfer_refusal,
)
from telephony.call_actions import cancel_consult, hang_up, hold, hold_caller, mute

QUEUES = ("support", "billing")


def view(
    agent_id: str = "1001",
    state: AgentState = AgentState.ON_CALL,
    call_id: str | None = "1700000000.1",
    channel: str | None = "PJSIP/agent1001-00000001",
) -> AgentView:
    return AgentView(agent_id, state, 0.0, None, call_id, channel, 0, None, 0, None, 0.0)


def test_segments_of_a_call_name_the_call_and_count_its_transfers() -> None:
    assert segment_id("1700000000.1", 1) == "1700000000.1-t1"
    assert segment_id("1700000000.1-t1", 2) == "1700000000.1-t2"
    assert call_of("1700000000.1-t2") == "1700000000.1"
    assert call_of("1700000000.1-cb1") == "1700000000.1-cb1"  # a callback attempt is its own
    assert [segment_number(c) for c in ("1700000000.1", "1700000000.1-t3")] == [0, 3]


@pytest.mark.parametrize(
    ("agent", "call_id", "reason"),
    [
        (view(), None, None),
        (view(), "1700000000.1", None),
        (view(), "1700000000.9", "not on call 1700000000.9"),
        (view(state=AgentState.WRAP_UP), None, NOT_ON_A_CALL),
        (view(state=AgentState.OFFERED), None, NOT_ON_A_CALL),  # ringing: not theirs yet
        (view(channel=None), None, "the call's channel is not known yet"),
    ],
)
def test_only_an_agent_talking_on_a_known_leg_may_control_the_call(
    agent: AgentView, call_id: str | None, reason: str | None
) -> None:
    assert control_refusal(agent, call_id) == reason


@pytest.mark.parametrize(
    ("queue", "agent", "target", "reason"),
    [
        ("billing", None, None, None),
        ("support", None, None, None),  # back to the same queue: to the next free agent
        (None, "1002", view("1002", AgentState.PAUSED, None, None), None),  # waits for them
        (None, "1002", view("1002", AgentState.ON_CALL, "x", "y"), None),
        (None, "1002", view("1002", AgentState.LOGGED_OUT, None, None), "not logged in"),
        (None, "1002", None, "no agent '1002'"),
        (None, "1001", view(), "its own agent"),
        ("retention", None, None, "no queue 'retention'"),
        ("billing", "1002", None, "name a queue or an agent"),
        (None, None, None, "name a queue or an agent"),
    ],
)
def test_a_blind_transfer_needs_one_known_target(
    queue: str | None, agent: str | None, target: AgentView | None, reason: str | None
) -> None:
    refusal = transfer_refusal(view(), queue=queue, agent=agent, queues=QUEUES, target_view=target)
    assert refusal == reason or (reason is not None and refusal is not None and reason in refusal)


def test_a_transferred_call_keeps_its_facts_and_first_entry_in_its_next_segment() -> None:
    facts = CallFacts(intent="complaint", tier="gold", complexity=3)
    call = IncomingCall("1700000000.1", "support", facts, line="PJSIP/trunk-1", entry_time=5.0)
    to_queue = requeued(call, Transfer(call.call_id, "1001", queue="billing"), entry_time=5.0)
    assert (to_queue.call_id, to_queue.queue, to_queue.entry_time) == (
        "1700000000.1-t1",
        "billing",
        5.0,
    )
    assert (to_queue.facts, to_queue.line, to_queue.directed) == (facts, "PJSIP/trunk-1", False)
    to_agent = requeued(to_queue, Transfer(to_queue.call_id, "1003", agent="1002"), entry_time=5.0)
    assert (to_agent.call_id, to_agent.queue) == ("1700000000.1-t2", "billing")
    assert (to_agent.preferred_agent, to_agent.directed) == ("1002", True)


def test_a_pending_transfer_is_carried_out_once_and_one_at_a_time() -> None:
    pending = PendingTransfers()
    transfer = Transfer("c1", "1001", queue="billing")
    pending.request(transfer)
    with pytest.raises(TransferRefused):
        pending.request(Transfer("c1", "1001", agent="1002"))
    assert "c1" in pending
    assert pending.take("c1") == transfer
    assert pending.take("c1") is None
    pending.request(transfer)
    pending.cancel("c1")
    assert "c1" not in pending
    assert transfer.target == "queue billing"
    assert Transfer("c1", "1001", agent="1002").target == "agent 1002"


def test_the_ami_actions_name_exactly_one_channel() -> None:
    leg = "PJSIP/agent1001-00000001"
    assert hang_up(leg).as_kwargs() == {"Channel": leg, "Cause": "16"}
    assert hang_up(leg).name == "Hangup"
    on = mute(leg, on=True)
    assert (on.name, on.as_kwargs()) == (
        "Setvar",
        {"Channel": leg, "Variable": "MUTEAUDIO(in)", "Value": "on"},
    )
    assert mute(leg, on=False).as_kwargs()["Value"] == "off"
    for bad in ("", "/agent.*/", "PJSIP/a\r\nAction: Originate"):
        with pytest.raises(ValueError, match="one channel"):
            hang_up(bad)


HELD = DeskHold("1700000000.1", since=100.0)


OLD_CALL = DeskHold("1699999999.9", since=0.0)


@pytest.mark.parametrize(
    ("held", "phone_held", "consulting", "transferring", "since_resume_s", "reason"),
    [
        (None, False, None, False, None, None),
        (HELD, False, None, False, None, "the call is already on hold"),
        (None, True, None, False, None, "the call is on hold from the phone: resume it there"),
        # a consult's transfer holds the leg too: the consult is the reason
        (None, True, "1002", False, None, "consulting agent 1002: the caller is already on hold"),
        (None, False, None, True, None, "a transfer of this call is under way"),
        (
            None,
            False,
            None,
            False,
            HOLD_SETTLE_S / 2,
            "the call is coming back from hold: try again in a moment",
        ),
        (None, False, None, False, HOLD_SETTLE_S, None),
        (OLD_CALL, False, None, False, None, None),  # the agent's previous call's hold
    ],
)
def test_the_desktop_holds_a_call_once_and_not_during_a_consult_or_transfer(
    held: DeskHold | None,
    phone_held: bool,
    consulting: str | None,
    transferring: bool,
    since_resume_s: float | None,
    reason: str | None,
) -> None:
    refusal = hold_refusal(
        view(),
        held=held,
        phone_held=phone_held,
        consulting=consulting,
        transferring=transferring,
        since_resume_s=since_resume_s,
    )
    assert refusal == reason


def test_no_hold_when_not_on_a_call() -> None:
    free = view(state=AgentState.AVAILABLE, call_id=None)
    assert (
        hold_refusal(free, held=None, phone_held=False, consulting=None, transferring=False)
        == NOT_ON_A_CALL
    )
    assert resume_refusal(free, held=HELD, phone_held=False, now=200.0) == NOT_ON_A_CALL


def test_only_the_desktops_own_hold_is_resumed_and_not_at_once() -> None:
    assert resume_refusal(view(), held=HELD, phone_held=False, now=200.0) is None
    assert resume_refusal(view(), held=None, phone_held=False, now=200.0) == (
        "the call is not on hold"
    )
    assert "resume it there" in (
        resume_refusal(view(), held=None, phone_held=True, now=200.0) or ""
    )
    assert "going on hold" in (
        resume_refusal(view(), held=HELD, phone_held=False, now=100.0 + HOLD_SETTLE_S / 2) or ""
    )


def test_a_held_call_is_neither_consulted_about_nor_transferred_until_resumed() -> None:
    assert on_hold_refusal(view(), HELD) == "the call is on hold: resume it first"
    assert on_hold_refusal(view(), None) is None
    assert on_hold_refusal(view(call_id="another"), HELD) is None


def test_the_desktops_hold_is_an_attended_transfer_to_the_hold_extension() -> None:
    leg, caller = "PJSIP/agent1001-00000001", "PJSIP/trunk-00000000"
    assert hold_caller(leg, caller).as_kwargs() == {
        "Channel": leg,
        "Variable": "_HOTLINE_HOLD_CALLER",
        "Value": caller,
    }
    assert (hold(leg).name, hold(leg).as_kwargs()) == (
        "Atxfer",
        {"Channel": leg, "Exten": "20", "Context": "hotline-consult"},
    )
    assert cancel_consult(leg).name == "CancelAtxfer"
    with pytest.raises(ValueError, match="one channel"):
        hold_caller(leg, "/trunk.*/")

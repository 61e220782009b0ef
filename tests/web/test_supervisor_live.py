"""The supervisor snapshot's live part, on the shipped config's queues and agents: callers at
the priority the router ranks them by now (aged, with its terms), named agents and callers,
pending pauses, and an alert when the callers of a queue have nobody to serve them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from acd.agent_events import Login, Logout, Pause, Ready
from acd.build import build_acd
from acd.calls import CallerCard, CallFacts, IncomingCall, MenuStep
from acd.clock import ManualClock
from acd.events import CallOffered, EventRecord, InMemoryEventSink
from center.service import AcdService
from hotline.web.supervisor.hub import SupervisorHub
from hotline.web.supervisor.live_view import MAX_SHOWN_CALLS
from tests.ports import unused_port
from tests.web.support import shipped_config

EVERYONE = ("1001", "1002", "1003", "1004", "1005")


@pytest.fixture
def centre(tmp_path: Path) -> tuple[AcdService, ManualClock, SupervisorHub, list[CallOffered]]:
    config = shipped_config(tmp_path, agi_port=unused_port(), ami_port=unused_port())
    clock = ManualClock(1000.0)
    sink = InMemoryEventSink()
    acd = AcdService(
        build_acd(config.priority, config.queues, config.agents, config.skills),
        sink=sink,
        clock=clock,
    )
    hub = SupervisorHub(acd, sink.subscribe)
    hub._unsubscribe = sink.subscribe(hub._saw)  # the hub's listener, without its task
    offers: list[CallOffered] = []

    def offered(record: EventRecord) -> None:
        if isinstance(record.event, CallOffered):
            offers.append(record.event)

    sink.subscribe(offered)
    return acd, clock, hub, offers


def calls_of(snapshot: dict[str, Any], queue: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = queue_of(snapshot, queue)["calls"]
    return calls


def queue_of(snapshot: dict[str, Any], queue: str) -> dict[str, Any]:
    return next(q for q in snapshot["queues"] if q["name"] == queue)


def agent_of(snapshot: dict[str, Any], agent_id: str) -> dict[str, Any]:
    return next(a for a in snapshot["agents"] if a["agent_id"] == agent_id)


def english(call_id: str, intent: str, *, number: str, name: str | None = None) -> IncomingCall:
    return IncomingCall(
        call_id,
        "support",
        CallFacts(intent=intent, call_type=intent, language="en", tier="regular"),
        caller=CallerCard(number=number, customer_name=name),
    )


def test_a_long_waiting_caller_shows_the_aged_priority_the_router_ranks_it_by(
    centre: tuple[AcdService, ManualClock, SupervisorHub, list[CallOffered]],
) -> None:
    acd, clock, hub, offers = centre
    acd.call_arrived(english("old", "how_to", number="+971501110001"))
    clock.advance(470)
    acd.call_arrived(english("new", "cancellation", number="+971501110002"))
    clock.advance(1)

    waiting = calls_of(hub.snapshot(), "support")

    # the caller who waited 471 s is ahead of the new one with a higher entry score
    assert [c["call_id"] for c in waiting] == ["old", "new"]
    old, new = waiting
    assert (old["base_priority"], new["base_priority"]) == (15, 45)  # how-to, cancellation
    assert old["priority"] > old["base_priority"] + 100
    terms = {t["name"]: t["value"] for t in old["priority_terms"]}
    assert terms["waiting"] == 150  # 20 points a minute, capped at 150
    assert old["priority"] == pytest.approx(sum(terms.values()), abs=0.1)
    # ...and that is the score the router offers it with, and the order it offers in
    acd.agent_event(Login("1001"))
    assert [o.call_id for o in offers] == ["old"]
    assert offers[0].priority == pytest.approx(old["priority"], abs=0.05)
    assert "waiting[471.0 s x 20/min, cap 150] +150" in offers[0].explanation


def test_callers_and_agents_are_named_and_the_uniqueid_is_kept_for_actions(
    centre: tuple[AcdService, ManualClock, SupervisorHub, list[CallOffered]],
) -> None:
    acd, _clock, hub, _offers = centre
    call = english("1733470000.42", "how_to", number="+971501110042", name="Jane Caller")
    acd.call_arrived(call)

    snapshot = hub.snapshot()

    (waiting,) = calls_of(snapshot, "support")
    assert waiting["call_id"] == "1733470000.42"
    assert waiting["caller"] == {
        "number": "+971501110042",
        "customer_id": None,
        "customer_name": "Jane Caller",
    }
    assert agent_of(snapshot, "1005")["name"] == "Amira"
    acd.agent_event(Login("1001"))
    (alice,) = [a for a in hub.snapshot()["agents"] if a["call_id"] == "1733470000.42"]
    assert (alice["name"], alice["caller"]["customer_name"]) == ("Alice", "Jane Caller")


def test_a_pause_asked_for_during_a_call_shows_as_pending_until_it_lands(
    centre: tuple[AcdService, ManualClock, SupervisorHub, list[CallOffered]],
) -> None:
    acd, _clock, hub, _offers = centre
    acd.agent_event(Login("1001"))
    acd.call_arrived(english("c1", "how_to", number="+971501110003"))
    acd.agent_event(Pause("1001", "coaching"))

    alice = agent_of(hub.snapshot(), "1001")
    assert alice["state"] == "offered"
    assert alice["pending"] == {"action": "pause", "reason": "coaching"}
    assert alice["pause_reason"] is None

    acd.agent_event(Ready("1001"))  # taken back
    assert agent_of(hub.snapshot(), "1001")["pending"] is None


def arabic(call_id: str) -> IncomingCall:
    return IncomingCall(
        call_id,
        "support",
        CallFacts(intent="how_to", language="ar"),
        caller=CallerCard(number="+971501110077", menu_path=(MenuStep("language", "dtmf 2"),)),
    )


def test_arabic_callers_with_the_only_arabic_agent_paused_raise_an_alert(
    centre: tuple[AcdService, ManualClock, SupervisorHub, list[CallOffered]],
) -> None:
    acd, clock, hub, offers = centre
    for agent_id in EVERYONE:
        acd.agent_event(Login(agent_id))
    acd.agent_event(Pause("1005", "break"))
    acd.call_arrived(arabic("ar1"))
    clock.advance(477)

    snapshot = hub.snapshot()

    assert offers == []  # English speakers are free, but nobody takes the Arabic caller
    (alert,) = snapshot["alerts"]
    assert (alert["kind"], alert["queue"], alert["call_ids"]) == ("all_paused", "support", ["ar1"])
    assert "lang.ar>=2" in alert["need"]
    (amira,) = alert["agents"]
    assert (amira["name"], amira["state"], amira["pause_reason"]) == ("Amira", "paused", "break")
    assert amira["time_in_state_s"] == 477
    support = queue_of(snapshot, "support")
    assert support["alerts"] == [alert]
    (waiting,) = support["calls"]
    cover = (waiting["eligible_now"], waiting["available_now"], waiting["eligible_ever"])
    assert cover == (1, 0, 1)

    acd.agent_event(Logout("1005"))
    (alert,) = hub.snapshot()["alerts"]
    assert (alert["kind"], alert["agents"]) == ("no_agent", [])

    acd.agent_event(Login("1005"))  # she is back: the call is offered to her, and the alert is gone
    assert [o.agent_id for o in offers] == ["1005"]
    assert hub.snapshot()["alerts"] == []


def test_a_queue_shows_its_eligible_and_available_agents(
    centre: tuple[AcdService, ManualClock, SupervisorHub, list[CallOffered]],
) -> None:
    acd, _clock, hub, _offers = centre
    for agent_id in ("1002", "1003", "1005"):
        acd.agent_event(Login(agent_id))
    acd.agent_event(Pause("1003", "break"))

    billing = queue_of(hub.snapshot(), "billing")

    assert [a["name"] for a in billing["eligible"]] == ["Bob", "Chloé", "Amira"]
    assert [a["name"] for a in billing["available"]] == ["Bob", "Amira"]
    assert billing["alerts"] == []


def test_busy_agents_are_a_warning_not_an_alarm(
    centre: tuple[AcdService, ManualClock, SupervisorHub, list[CallOffered]],
) -> None:
    acd, _clock, hub, offers = centre
    acd.agent_event(Login("1005"))
    acd.call_arrived(arabic("ar1"))
    acd.call_arrived(arabic("ar2"))

    (alert,) = hub.snapshot()["alerts"]

    assert [o.call_id for o in offers] == ["ar1"]  # ringing at Amira: she is not free
    assert (alert["kind"], alert["call_ids"]) == ("none_free", ["ar2"])


def test_a_long_line_sends_its_most_urgent_callers_and_counts_them_all(
    centre: tuple[AcdService, ManualClock, SupervisorHub, list[CallOffered]],
) -> None:
    acd, clock, hub, _offers = centre
    for n in range(MAX_SHOWN_CALLS + 20):
        intent = "cancellation" if n % 2 else "how_to"
        acd.call_arrived(english(f"c{n}", intent, number=f"+97150{n:07d}"))
        clock.advance(0.1)

    support = queue_of(hub.snapshot(max_calls=MAX_SHOWN_CALLS), "support")

    assert support["waiting"] == MAX_SHOWN_CALLS + 20
    shown = support["calls"]
    assert len(shown) == MAX_SHOWN_CALLS
    priorities = [c["priority"] for c in shown]
    assert priorities == sorted(priorities, reverse=True)
    assert shown[0]["call_id"] == "c1"  # the oldest cancellation: most urgent of all
    assert support["longest_wait_s"] == pytest.approx(12.0, abs=0.01)
    # /metrics and other readers of the whole snapshot see every caller
    assert len(queue_of(hub.snapshot(), "support")["calls"]) == MAX_SHOWN_CALLS + 20

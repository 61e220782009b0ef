"""Who can serve the callers waiting in a queue (``acd.coverage``): the requirement left after
every relaxation step decides whether a caller is stranded; paused and busy agents are told
apart from missing ones."""

from __future__ import annotations

from acd.agent_events import AgentState
from acd.agents import AgentView
from acd.calls import CallFacts
from acd.coverage import AlertKind, StaffMember, cover, needs
from acd.priority import PriorityScore
from acd.queue import WaitingCall
from acd.skills import QueueSkills, RelaxStep, Requirement

S = AgentState
#: Arabic speakers at level 2, and product knowledge that relaxes away after 60 s.
SUPPORT = QueueSkills(
    "support",
    required=(("product.internet", 2),),
    language_prefix="lang.",
    language_min_level=2,
    steps=(RelaxStep(60.0, keep_only=("lang.*",)),),
)
OWN = {"support": SUPPORT.profile(CallFacts(), False).steps[0].requirement}


def agent(agent_id: str, state: AgentState, **skills: int) -> StaffMember:
    view = AgentView(agent_id, state, 0.0, None, None, None, 0, None, 0, None, 0.0)
    return StaffMember(view, {k.replace("_", "."): v for k, v in skills.items()})


def caller(call_id: str, language: str, entry: float = 0.0) -> WaitingCall:
    profile = SUPPORT.profile(CallFacts(language=language), False)
    return WaitingCall(call_id, "support", entry, PriorityScore(), profile)


def test_a_caller_whose_requirement_relaxes_to_an_available_agent_is_not_stranded() -> None:
    # at first only a product expert who speaks Arabic; after 60 s any Arabic speaker
    staff = [agent("amira", S.AVAILABLE, lang_ar=3)]

    covered = cover(OWN, staff, [caller("c1", "ar")], now=10.0)["support"]

    assert covered.alerts == ()
    cover_c1 = covered.calls["c1"]
    assert (cover_c1.eligible_now, cover_c1.available_now, cover_c1.eligible_ever) == (0, 0, 1)
    assert cover_c1.need_now == "lang.ar>=2, product.internet>=2"


def test_nobody_logged_in_with_the_language_is_an_alert_naming_the_need() -> None:
    staff = [
        agent("alice", S.AVAILABLE, lang_en=3, product_internet=4),
        agent("amira", S.LOGGED_OUT, lang_ar=3),
    ]

    (alert,) = cover(OWN, staff, [caller("c1", "ar")], now=100.0)["support"].alerts

    assert (alert.kind, alert.need, alert.calls, alert.agents) == (
        AlertKind.NO_AGENT,
        "lang.ar>=2",
        ("c1",),
        (),
    )


def test_paused_and_busy_speakers_are_told_apart() -> None:
    paused = [agent("amira", S.PAUSED, lang_ar=3)]
    busy = [agent("amira", S.ON_CALL, lang_ar=3), agent("omar", S.WRAP_UP, lang_ar=2)]

    (when_paused,) = cover(OWN, paused, [caller("c1", "ar")], now=100.0)["support"].alerts
    (when_busy,) = cover(OWN, busy, [caller("c1", "ar")], now=100.0)["support"].alerts

    assert (when_paused.kind, when_paused.agents) == (AlertKind.ALL_PAUSED, ("amira",))
    assert (when_busy.kind, when_busy.agents) == (AlertKind.NONE_FREE, ("amira", "omar"))


def test_callers_needing_the_same_skills_share_one_alert_in_arrival_order() -> None:
    calls = [caller("later", "ar", entry=5.0), caller("first", "ar"), caller("en", "en")]
    staff = [agent("dev", S.AVAILABLE, lang_en=3, product_internet=3)]

    (alert,) = cover(OWN, staff, calls, now=100.0)["support"].alerts

    assert alert.calls == ("first", "later")


def test_a_queue_lists_its_own_staff_and_who_of_them_is_available() -> None:
    staff = [
        agent("alice", S.AVAILABLE, lang_en=3, product_internet=4),
        agent("bob", S.PAUSED, product_internet=2),
        agent("chloe", S.AVAILABLE, product_internet=1),
        agent("dev", S.LOGGED_OUT, product_internet=3),
    ]

    covered = cover(OWN, staff, [], now=0.0)["support"]

    assert (covered.eligible, covered.available) == (("alice", "bob"), ("alice",))


def test_needs_names_required_skills_only() -> None:
    assert needs(Requirement.of({"lang.ar": 2}, {"experience": 0.5})) == "lang.ar>=2"
    assert needs(Requirement()) == "any agent"

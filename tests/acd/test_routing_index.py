"""A routing class's live tops: kept between decisions, dropped when its calls change."""

from __future__ import annotations

from acd.priority import Aging, PriorityScore, Urgency
from acd.queue import WaitingCall
from acd.routing_index import CallSlot, RoutingClass
from acd.skills import Requirement, RoutingProfile

REQUIREMENT = Requirement.of({"billing": 1})
URGENCY = Urgency(Aging(1.0, 10.0))


def slot(seq: int, entry: float) -> CallSlot:
    call = WaitingCall(f"c{seq}", "q", entry, PriorityScore(), RoutingProfile.fixed(REQUIREMENT))
    return CallSlot(call, seq, (), [None])


def join(cls: RoutingClass, s: CallSlot) -> None:
    """As the routing table places a call in the linear phase (key: base - rate * entry)."""
    s.token += 1
    s.cls = cls
    cls.push_call(s, 0, -URGENCY.rate * s.entry)


def leave(cls: RoutingClass, s: CallSlot) -> None:
    """As the routing table unplaces a call."""
    s.token += 1
    s.cls = None
    cls.call_left()


def test_tops_are_kept_until_a_call_joins_or_leaves() -> None:
    cls = RoutingClass("q", "voice", REQUIREMENT, URGENCY)
    later, earlier = slot(1, 5.0), slot(2, 1.0)
    join(cls, later)
    assert [s for _, s, _ in cls.live_tops()] == [later]
    assert cls.live_tops() is cls.live_tops()  # kept, not looked up again

    join(cls, earlier)  # waited longer: the new top
    assert [s for _, s, _ in cls.live_tops()] == [earlier]

    leave(cls, earlier)
    assert [s for _, s, _ in cls.live_tops()] == [later]
    assert cls.calls == 1

    leave(cls, later)
    assert cls.live_tops() == []
    assert cls.calls == 0


def test_a_call_moved_to_another_class_is_not_a_top_of_the_one_it_left() -> None:
    first = RoutingClass("q", "voice", REQUIREMENT, URGENCY)
    second = RoutingClass("q", "voice", Requirement.of({"billing": 2}), URGENCY)
    moved, stays = slot(1, 0.0), slot(2, 3.0)
    join(first, moved)
    join(first, stays)
    assert [s for _, s, _ in first.live_tops()] == [moved]

    leave(first, moved)
    join(second, moved)
    assert [s for _, s, _ in first.live_tops()] == [stays]
    assert [s for _, s, _ in second.live_tops()] == [moved]

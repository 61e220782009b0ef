"""The expected-wait model: the release schedule of the agents who can take the call."""

from __future__ import annotations

import pytest

from center.ewt import TalkTimes, expected_wait, position_in_line, release_in


def test_the_next_caller_waits_for_the_first_agent_to_free_up() -> None:
    assert expected_wait(1, [120.0, 30.0, 90.0], handle_s=200.0) == 30.0


def test_each_caller_ahead_takes_the_next_release_and_agents_serve_again_a_handle_time_later() -> (
    None
):
    releases = [10.0, 40.0]
    assert [expected_wait(p, releases, handle_s=100.0) for p in range(1, 6)] == [
        10.0,
        40.0,
        110.0,
        140.0,
        210.0,
    ]


def test_with_an_agent_free_now_the_next_caller_waits_nothing() -> None:
    assert expected_wait(1, [0.0, 50.0], handle_s=100.0) == 0.0


def test_no_agent_who_can_take_the_call_means_no_estimate() -> None:
    assert expected_wait(3, [], handle_s=100.0) is None


def test_the_estimate_grows_with_the_queue_and_shrinks_with_staffing() -> None:
    few = [expected_wait(p, [50.0, 60.0], handle_s=180.0) or 0 for p in range(1, 30)]
    many = [expected_wait(p, [50.0, 60.0, 70.0, 80.0], handle_s=180.0) or 0 for p in range(1, 30)]
    assert few == sorted(few)
    assert all(m <= f for m, f in zip(many, few, strict=True))


def test_position_one_is_invalid_below() -> None:
    with pytest.raises(ValueError, match="position"):
        expected_wait(0, [1.0], handle_s=1.0)


def test_an_agent_on_a_long_call_is_expected_to_free_up_after_a_quarter_talk_not_now() -> None:
    assert release_in("on_call", 30.0, talk_s=100.0, wrap_s=10.0) == 80.0
    assert release_in("on_call", 500.0, talk_s=100.0, wrap_s=10.0) == 35.0
    assert release_in("wrap_up", 4.0, talk_s=100.0, wrap_s=10.0) == 6.0
    assert release_in("offered", 1.0, talk_s=100.0, wrap_s=10.0) == 110.0
    assert release_in("available", 9.0, talk_s=100.0, wrap_s=10.0) == 0.0
    assert release_in("paused", 9.0, talk_s=100.0, wrap_s=10.0) is None


def test_the_line_is_the_routers_order_priority_first_then_entry() -> None:
    others = [(50.0, 10.0), (10.0, 1.0), (20.0, 5.0), (20.0, 2.0)]
    assert position_in_line((20.0, 3.0), others) == 3  # behind 50 and the earlier 20


def test_talk_times_start_from_the_assumption_and_move_by_a_tenth() -> None:
    talk = TalkTimes()
    assert talk.mean("support", 180.0) == 180.0
    talk.observe("support", 80.0, 180.0)
    assert talk.mean("support", 180.0) == pytest.approx(170.0)
    assert talk.mean("billing", 60.0) == 60.0

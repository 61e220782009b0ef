"""Expected wait: when the agents who can take this call free up, and how many are ahead.

The model (pure functions, so it is tested and explained on its own):

* **Who can take the call**: the logged-in, not paused agents whose skills meet the call's
  requirement *now* (after any relaxation step it has reached).
* **When each is free** (``release_in``): available now → 0; ringing → a full handle time;
  on a call for ``t`` s → the rest of the mean talk time (at least a quarter of it: a call
  past its mean is not about to end) plus wrap-up; in wrap-up → what is left of it.
* **The call's place** (``position_in_line``): 1 + the waiting calls of its queue the router
  would serve first (higher effective priority, then earlier entry) — the router's order,
  aging included, not arrival order.
* **The wait** (``expected_wait``): agents are taken in the order they free up, each serving
  again one handle time later; the call at position ``p`` gets the ``p``-th release.

This is the release schedule of the live staffing, as in Erlang C's "the call waits for the
(p)-th service completion", but with each agent's actual progress instead of the memoryless
assumption. It is not a moving average of past waits (app_queue's holdtime), which lags the
queue it describes. Only the mean talk time is learned from history (``TalkTimes``).
Approximations: calls of other queues competing for the same agents are not counted, and
agents who log in or out later are not foreseen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "TalkTimes",
    "WaitEstimate",
    "expected_wait",
    "position_in_line",
    "release_in",
]

#: A call past its mean talk time is expected to go on for at least this share of it.
MIN_REMAINING_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    #: 1 = the next call an agent who can take it will get.
    position: int
    #: Seconds; None when no agent who could take the call is serving.
    expected_s: float | None
    #: Agents (logged in, not paused) who can take the call now.
    agents: int


def release_in(state: str, in_state_s: float, talk_s: float, wrap_s: float) -> float | None:
    """Seconds until an agent in ``state`` (an ``AgentState`` value) can take the next call;
    None for agents who are not serving (paused, logged out)."""
    handle = talk_s + wrap_s
    if state == "available":
        return 0.0
    if state == "offered":
        return handle
    if state == "on_call":
        return max(talk_s - in_state_s, MIN_REMAINING_SHARE * talk_s) + wrap_s
    if state == "wrap_up":
        return max(wrap_s - in_state_s, 0.0)
    return None


def expected_wait(position: int, releases: Sequence[float], handle_s: float) -> float | None:
    """The ``position``-th time an agent frees up, each agent serving again every
    ``handle_s`` after their first release. Releases are clamped to ``[0, handle_s]``, so
    the merged schedule is the sorted releases repeated, one handle time later each round.
    """
    if position < 1:
        raise ValueError("position starts at 1")
    if not releases:
        return None
    handle = max(handle_s, 0.0)
    ordered = sorted(min(max(r, 0.0), handle) for r in releases)
    rounds, index = divmod(position - 1, len(ordered))
    return ordered[index] + rounds * handle


def position_in_line(mine: tuple[float, float], others: Iterable[tuple[float, float]]) -> int:
    """1 + the calls served before this one: (effective priority, entry time) pairs; higher
    priority first, then earlier entry (ties stay behind: the router's sequence decides)."""
    priority, entry = mine
    ahead = 0
    for other_priority, other_entry in others:
        if other_priority > priority or (other_priority == priority and other_entry < entry):
            ahead += 1
    return ahead + 1


class TalkTimes:
    """Mean talk time per queue: an exponentially weighted mean of answered calls, starting
    from the configured assumption (so one odd call moves it by ``weight`` only)."""

    def __init__(self, weight: float = 0.1) -> None:
        if not 0 < weight <= 1:
            raise ValueError("weight must be in (0, 1]")
        self._weight = weight
        self._means: dict[str, float] = {}

    def observe(self, queue: str, talk_s: float, assumed_s: float) -> None:
        if talk_s < 0:
            return
        mean = self._means.get(queue, assumed_s)
        self._means[queue] = mean + self._weight * (talk_s - mean)

    def mean(self, queue: str, assumed_s: float) -> float:
        return self._means.get(queue, assumed_s)

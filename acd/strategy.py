"""How a queue breaks ties between equally matched agents.

Every strategy is a key that is fixed while the agent stays available (it only changes
when the agent takes a call), so the router can keep available agents in heaps. Smaller
keys win; the agent id breaks any remaining tie.
"""

from __future__ import annotations

import math
from enum import StrEnum

__all__ = ["Strategy", "strategy_key"]


class Strategy(StrEnum):
    #: The agent whose last call ended longest ago (or who became ready longest ago).
    LONGEST_IDLE = "longest_idle"
    #: The agent who has handled the fewest calls since login.
    LEAST_CALLS = "least_calls"
    #: The agent this queue offered a call to least recently (app_queue's rrmemory).
    ROUND_ROBIN = "round_robin"
    #: A uniform random pick (seeded, reproducible).
    RANDOM = "random"
    #: A random pick weighted by the agent's levels on the call's skills.
    WEIGHTED = "weighted"
    #: Always the first in roster order (app_queue's linear).
    LINEAR = "linear"


def strategy_key(
    strategy: Strategy,
    *,
    idle_since: float,
    calls_handled: int,
    last_offered: int,
    draw: float,
    weight: float,
    order: int,
) -> float:
    """The tie-break key of one agent for one queue.

    ``draw`` is uniform in (0, 1], drawn once each time the agent becomes available;
    ``WEIGHTED`` turns it into Efraimidis-Spirakis' key ``-ln(u) / w`` (a smaller key is a
    sample proportional to ``w``), so a weighted random choice is still a heap minimum.
    """
    if strategy is Strategy.LONGEST_IDLE:
        return idle_since
    if strategy is Strategy.LEAST_CALLS:
        return float(calls_handled)
    if strategy is Strategy.ROUND_ROBIN:
        return float(last_offered)
    if strategy is Strategy.RANDOM:
        return draw
    if strategy is Strategy.WEIGHTED:
        return -math.log(draw) / weight
    return float(order)

"""Erlang C: the M/M/N queue (Poisson arrivals, exponential handle times, N agents, FIFO,
nobody abandons). The yardstick the simulator is checked against, and a staffing tool."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

__all__ = ["ErlangC", "erlang_b", "erlang_c", "erlang_c_kpis"]


def erlang_b(agents: int, erlangs: float) -> float:
    """Blocking probability, by the numerically stable recursion."""
    if agents < 0 or erlangs < 0:
        raise ValueError("agents and erlangs must not be negative")
    b = 1.0
    for k in range(1, agents + 1):
        b = erlangs * b / (k + erlangs * b)
    return b


def erlang_c(agents: int, erlangs: float) -> float:
    """Probability that a call has to wait (1.0 when the queue is unstable)."""
    if erlangs >= agents:
        return 1.0
    b = erlang_b(agents, erlangs)
    return agents * b / (agents - erlangs * (1 - b))


@dataclass(frozen=True, slots=True)
class ErlangC:
    agents: int
    erlangs: float
    aht: float
    target_s: float
    p_wait: float
    asa: float
    service_level: float
    occupancy: float
    abandon_rate: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def erlang_c_kpis(agents: int, erlangs: float, aht: float, target_s: float = 20.0) -> ErlangC:
    c = erlang_c(agents, erlangs)
    if erlangs >= agents:
        return ErlangC(agents, erlangs, aht, target_s, 1.0, math.inf, 0.0, 1.0)
    spare = agents - erlangs
    return ErlangC(
        agents=agents,
        erlangs=erlangs,
        aht=aht,
        target_s=target_s,
        p_wait=c,
        asa=c * aht / spare,
        service_level=1.0 - c * math.exp(-spare * target_s / aht),
        occupancy=erlangs / agents,
    )

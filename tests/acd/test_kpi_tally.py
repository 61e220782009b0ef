"""A cell of the running KPIs adds every one of its counters and sums (the oldest and
longest as such), so a report's groups are the sum of their cells."""

from __future__ import annotations

import math

from acd.kpi_tally import Tally


def test_adding_cells_adds_every_counter_and_sum() -> None:
    a, b = Tally(), Tally()
    for i, name in enumerate(Tally.__slots__):
        if name == "exits":
            a.exits, b.exits = {"overflowed": 1}, {"overflowed": 2, "failed": 1}
        else:
            setattr(a, name, i + 1)
            setattr(b, name, 10 * (i + 1))
    total = Tally().add(a).add(b)
    for i, name in enumerate(Tally.__slots__):
        got = getattr(total, name)
        if name == "exits":
            assert got == {"overflowed": 3, "failed": 1}
        elif name == "longest":
            assert got == 10 * (i + 1)
        elif name == "oldest":
            assert got == i + 1
        else:
            assert got == 11 * (i + 1), name
    assert Tally().oldest == math.inf

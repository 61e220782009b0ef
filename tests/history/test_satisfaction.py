"""CSAT over a period: survey scores averaged, unscored contacts not counted (both backends)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from history.inputs import Channel, InteractionRef, InteractionUpdate, NewInteraction
from history.repository import HistoryRepository

from .conftest import ManualClock


def call(key: str, at: object, **fields: object) -> NewInteraction:
    return NewInteraction.model_validate(
        {"channel": "voice", "started_at": at, "source": "hotline", "idempotency_key": key} | fields
    )


async def test_csat_averages_the_scores_given_in_the_period(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    t0 = clock.now
    await repository.append_interaction(call("before", t0 - timedelta(minutes=1), csat=1))
    await repository.append_interaction(call("a", t0, csat=5))
    await repository.append_interaction(call("b", t0 + timedelta(minutes=5), csat=2))
    await repository.append_interaction(call("unscored", t0 + timedelta(minutes=6)))
    await repository.append_interaction(
        NewInteraction(channel=Channel.CHAT, started_at=t0 + timedelta(minutes=7), csat=3)
    )
    await repository.append_interaction(call("after", t0 + timedelta(minutes=15), csat=1))

    summary = await repository.csat(t0, t0 + timedelta(minutes=15))
    assert summary.responses == 3
    assert summary.average == pytest.approx(10 / 3)
    voice = await repository.csat(t0, t0 + timedelta(minutes=15), channel=Channel.VOICE)
    assert voice.responses == 2
    assert voice.average == pytest.approx(3.5)


async def test_a_score_written_after_the_call_counts_and_no_score_is_no_average(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    t0 = clock.now
    empty = await repository.csat(t0, t0 + timedelta(hours=1))
    assert (empty.responses, empty.average) == (0, None)
    await repository.append_interaction(call("c1", t0))
    await repository.update_interaction(
        InteractionRef(source="hotline", idempotency_key="c1"), InteractionUpdate(csat=4)
    )
    summary = await repository.csat(t0, t0 + timedelta(hours=1))
    assert (summary.responses, summary.average) == (1, 4.0)

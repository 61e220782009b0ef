"""Any caller ID is kept as what it is: a number, an extension, a SIP user, or nobody (withheld).

Each shape a carrier or a PBX sends goes through the voice side's writer
(``center.call_interactions.HistoryInteractions``) into a real store, SQLite and PostgreSQL:
the call always gets its one interaction, never a refused write.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from center.call_interactions import HistoryInteractions
from history.identities import IdentityKind, IdentityNormaliser
from history.inputs import InteractionRef
from history.outcomes import Outcome
from history.repository import HistoryRepository
from history.spool import Spool
from history.writer import HistoryWriter
from ivr.callers import HistoryDirectory
from ivr.flow.handoff import CallAttributes

UK = IdentityNormaliser()
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

#: (caller ID as sent, the identity it is kept as; None: an anonymous contact)
SHAPES: list[tuple[str | None, tuple[IdentityKind, str] | None]] = [
    ("+441632960123", (IdentityKind.PHONE, "+441632960123")),
    ("01632 960123", (IdentityKind.PHONE, "+441632960123")),
    ("441632960123", (IdentityKind.PHONE, "+441632960123")),
    ("<sip:+441632960123@carrier.example>", (IdentityKind.PHONE, "+441632960123")),
    ("c1", (IdentityKind.SIP, "c1")),
    ("bot2", (IdentityKind.SIP, "bot2")),
    ("sip:Alice@PBX.Example;transport=udp", (IdentityKind.SIP, "Alice@pbx.example")),
    ("2001", (IdentityKind.EXTENSION, "2001")),
    ("*98", (IdentityKind.EXTENSION, "*98")),
    ("restricted", None),
    ("Restricted", None),
    ("anonymous", None),
    ("unknown", None),
    ("", None),
    (None, None),
    ("bad\x00id", None),
]


@pytest.mark.parametrize(("raw", "kept"), SHAPES)
def test_a_caller_id_is_the_identity_it_is(
    raw: str | None, kept: tuple[IdentityKind, str] | None
) -> None:
    assert UK.caller_identity(raw) == kept


@pytest.mark.parametrize(("raw", "kept"), [(r, k) for r, k in SHAPES if k is not None])
def test_the_identity_a_caller_id_is_kept_as_is_stable(
    raw: str, kept: tuple[IdentityKind, str]
) -> None:
    assert UK.normalise(*kept) == kept  # what is stored normalises to itself


@pytest.fixture
async def writer(repository: HistoryRepository, tmp_path: Path) -> AsyncIterator[HistoryWriter]:
    made = HistoryWriter(repository, Spool(tmp_path / "spool.jsonl"))
    await made.start()
    yield made
    await made.close()


async def closed(interactions: HistoryInteractions, writer: HistoryWriter) -> None:
    """The calls' writes answered, and any a slow store missed the writer's deadline for
    (spooled, by design: calls never wait on the store) replayed before the test reads."""
    await interactions.close()
    async with asyncio.timeout(30):
        await writer.drained()


@pytest.mark.parametrize(("raw", "kept"), SHAPES)
async def test_every_caller_id_shape_leaves_its_call_one_complete_record(
    writer: HistoryWriter,
    repository: HistoryRepository,
    raw: str | None,
    kept: tuple[IdentityKind, str] | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    interactions = HistoryInteractions(writer, wall=lambda: NOW)
    call = CallAttributes("call-1", "SIP/caller-01", raw, "en", intent="billing_question")
    interactions.queued(call, "support")
    interactions.answered("call-1", agent_id="1001", wait_s=4.0)
    interactions.ended("call-1", outcome=Outcome.ANSWERED, priority=12.0)
    with caplog.at_level(logging.ERROR):
        await closed(interactions, writer)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    found = await repository.get_interaction(
        InteractionRef(source="hotline", idempotency_key="call-1")
    )
    assert (found.outcome, found.agent, found.ended_at) == ("answered", "1001", NOW)
    if kept is None:
        assert found.customer_id is None  # withheld: an anonymous contact, still counted
    else:
        customer = await repository.find_customer(*kept)
        assert customer is not None
        assert found.customer_id == customer.id
        assert [(i.kind, i.value) for i in customer.identities] == [kept]


@pytest.mark.parametrize("raw", ["bot2", "2001", "sip:bot2@pbx.example"])
async def test_a_sip_user_or_an_extension_calling_again_is_the_same_customer(
    writer: HistoryWriter, repository: HistoryRepository, raw: str
) -> None:
    interactions = HistoryInteractions(writer, wall=lambda: NOW)
    for n in (1, 2):
        call = CallAttributes(f"call-{n}", "SIP/caller-01", raw, "en")
        interactions.queued(call, "support")
        interactions.ended(call.call_id, outcome=Outcome.ABANDONED_QUEUE, wait_s=30.0)
    await closed(interactions, writer)

    first, second = [
        await repository.get_interaction(InteractionRef(source="hotline", idempotency_key=k))
        for k in ("call-1", "call-2")
    ]
    assert first.customer_id is not None
    assert first.customer_id == second.customer_id
    profile = await HistoryDirectory(repository).find_by_phone(raw)  # the IVR's lookup
    assert profile is not None
    assert profile.customer_id == str(first.customer_id)
    assert profile.open_issues == 2  # both abandoned calls still need someone

"""The agent desktop's rules from agents.yaml, enforced by the service whatever the page
sends: a pause only for a configured reason and within its daily count, a pause past its
``max_s`` flagged in the live row, wrap-up codes from the configured list (a queue's own
first), canned replies filled for the conversation; and a chat handed on to a colleague (a
directed task: theirs alone, even with its first agent free) or to a queue, with its place
and thread kept and a note of who transferred it to whom."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import aiohttp

from acd.agent_events import AgentState, Login, Pause, Ready
from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn, NewInteraction
from tests.e2e.stack import wait_until
from tests.web.chat_rig import Page, Rig, chat_rig
from tests.web.support import signed_in

RULES: dict[str, Any] = {
    "pause_reasons": {
        "break": {"max_s": 900, "per_day": 2},
        "lunch": {"max_s": 0.2, "per_day": 1},
        "training": {},
    },
    "dispositions": ["resolved", "escalated"],
    "canned_responses": {
        "greeting": {
            "en": "Hello {customer_name}, this is {agent_name} in {queue}.",
            "ar": "مرحبًا {customer_name}",
        }
    },
}
QUEUES: dict[str, Any] = {"support": {}, "billing": {"dispositions": ["refund", "explained"]}}


class Day:
    """The ACD's day, moved on by the test."""

    def __init__(self) -> None:
        self.today = dt.date(2026, 12, 6)

    def __call__(self) -> dt.date:
        return self.today


async def _post(http: aiohttp.ClientSession, rig: Rig, csrf: str, path: str, body: Any) -> Any:
    async with http.post(
        rig.base + "page-api/agent/" + path, json=body, headers={"X-CSRF-Token": csrf}
    ) as response:
        return response.status, await response.json()


async def _options(http: aiohttp.ClientSession, rig: Rig) -> dict[str, Any]:
    async with http.get(rig.base + "page-api/agent/options") as response:
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
        return answer


async def test_pauses_are_refused_past_their_daily_count_and_for_unknown_reasons(
    tmp_path: Path,
) -> None:
    day = Day()
    async with (
        chat_rig(tmp_path, desk_rules=RULES, today=day) as rig,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        csrf = await signed_in(http, rig.base, "ann")
        assert (await _post(http, rig, csrf, "login", {}))[0] == 200
        status, answer = await _post(http, rig, csrf, "pause", {"reason": "picnic"})
        assert status == 409
        assert "not a pause reason" in answer["error"]
        for _ in range(2):
            assert (await _post(http, rig, csrf, "pause", {"reason": "break"}))[0] == 200
            assert (await _post(http, rig, csrf, "ready", {}))[0] == 200
        status, answer = await _post(http, rig, csrf, "pause", {"reason": "break"})
        assert status == 409
        assert "break may be taken 2 times a day" in answer["error"]
        assert rig.acd.distributor.book.view("ann").state is AgentState.AVAILABLE
        reasons = {r["reason"]: r for r in (await _options(http, rig))["pause_reasons"]}
        assert (reasons["break"]["taken_today"], reasons["break"]["per_day"]) == (2, 2)
        assert reasons["training"] == {
            "reason": "training",
            "max_s": None,
            "per_day": None,
            "taken_today": 0,
        }
        # a supervisor's pause is not the agent's own: not limited, and not counted
        rig.acd.agent_event(Pause("ann", "break"))
        rig.acd.agent_event(Ready("ann"))
        assert (await _options(http, rig))["pause_reasons"][0]["taken_today"] == 2
        # a new day, a new count
        day.today += dt.timedelta(days=1)
        assert (await _post(http, rig, csrf, "pause", {"reason": "break"}))[0] == 200


async def test_a_pause_past_its_max_is_flagged_in_the_live_row(tmp_path: Path) -> None:
    async with (
        chat_rig(tmp_path, desk_rules=RULES) as rig,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        csrf = await signed_in(http, rig.base, "ann")
        await _post(http, rig, csrf, "login", {})
        assert (await _post(http, rig, csrf, "pause", {"reason": "lunch"}))[0] == 200

        def row() -> dict[str, Any]:
            rows = rig.supervisors.snapshot()["agents"]
            found: dict[str, Any] = next(a for a in rows if a["agent_id"] == "ann")
            return found

        assert row()["pause_max_s"] == 0.2
        await wait_until(lambda: row()["pause_over"], timeout_s=5)
        assert row()["timers"]["pause_s"] >= 0.2
        assert row()["timers"]["talk_s"] is None
        await _post(http, rig, csrf, "ready", {})
        assert row()["pause_over"] is False
        # lunch is once a day
        status, answer = await _post(http, rig, csrf, "pause", {"reason": "lunch"})
        assert (status, answer["error"]) == (
            409,
            "agent ann: lunch may be taken once a day, and you have taken it today",
        )


async def _talk(rig: Rig, page: Page, text: str) -> int:
    visitor = (await page.hello(name="Nadia"))["visitor"]
    await page.say("m1", text)
    found = await rig.store.find_open_conversation(
        Channel.CHAT, identity=IdentityIn(kind=IdentityKind.CHAT, value=visitor)
    )
    assert found is not None
    return found.id


async def test_a_chat_transferred_to_a_colleague_waits_for_them_alone_with_its_place(
    tmp_path: Path,
) -> None:
    async with chat_rig(tmp_path, desk_rules=RULES, queues=QUEUES) as rig:
        rig.acd.agent_event(Login("ann"))
        rig.acd.agent_event(Login("bob", paused_reason="training"))

        def offers() -> list[tuple[str, str]]:
            return [(o.call_id, o.agent_id) for o in rig.acd.recent_offers]

        async with rig.agent("ann") as ann, rig.agent("bob") as bob, rig.visitor() as page:
            await ann.next("snapshot")
            await bob.next("snapshot")
            talk = await _talk(rig, page, "my bill is wrong")
            card = (await ann.next("offered"))["task"]
            assert card["canned"] == [
                {"key": "greeting", "text": "Hello Nadia, this is Ann in support."}
            ]
            assert card["dispositions"] == ["resolved", "escalated"]
            assert (await ann.post(f"{talk}/accept"))[0] == 200
            await ann.next("accepted")
            task_id = rig.desk.task_of(talk)
            assert task_id is not None
            (entry,) = {e.entry_time for e in _queued(rig, task_id)}

            # refused: herself, nobody, and a colleague who is not logged in
            assert (await ann.post(f"{talk}/transfer", {"agent": "ann"}))[0] == 409
            assert (await ann.post(f"{talk}/transfer", {"queue": "nowhere"}))[0] == 409
            assert (await bob.post(f"{talk}/transfer", {"queue": "billing"}))[0] == 409

            status, answer = await ann.post(f"{talk}/transfer", {"agent": "bob"})
            assert (status, answer["transferred_to"]) == (200, "agent bob")
            gone = await ann.next("gone")
            assert gone["conversation"] == talk
            # Ann is free and takes chats, Bob is paused: the directed task waits for Bob
            await asyncio.sleep(0.3)
            assert rig.desk.holder(talk) is None
            assert offers() == [(task_id, "ann")]
            waiting = next(c for c in rig.acd.distributor.router.calls() if c.call_id == task_id)
            assert (waiting.entry_time, waiting.directed, waiting.preferred_agent) == (
                entry,
                True,
                "bob",
            )
            rig.acd.agent_event(Ready("bob"))
            offered = (await bob.next("offered"))["task"]
            assert offers() == [(task_id, "ann"), (task_id, "bob")]
            assert (offered["conversation"], offered["transferred_by"]) == (talk, "Ann")
            assert [m["text"] for m in offered["thread"]] == ["my bill is wrong"]
            assert offered["canned"][0]["text"] == "Hello Nadia, this is Bob in support."
            assert (await bob.post(f"{talk}/accept"))[0] == 200
            await bob.next("accepted")
            # the customer is still in the same conversation with Bob
            assert (await bob.post(f"{talk}/messages", {"text": "Bob here", "ref": "b1"}))[0] == 200
            await page.next("message", lambda f: f["message"]["text"] == "Bob here")
        await rig.desk.flush()
        timeline = await rig.store.repository.get_interaction(talk)
        assert timeline.agent == "bob"
        notes = await _notes(rig, talk)
        assert "Transferred by Ann to Bob" in notes


async def test_a_chat_transferred_to_a_queue_keeps_its_place_and_takes_its_codes(
    tmp_path: Path,
) -> None:
    async with chat_rig(tmp_path, desk_rules=RULES, queues=QUEUES) as rig:
        rig.acd.agent_event(Login("ann"))
        async with rig.agent("ann") as ann, rig.visitor() as page:
            await ann.next("snapshot")
            talk = await _talk(rig, page, "refund please")
            await ann.next("offered")
            await ann.post(f"{talk}/accept")
            await ann.next("accepted")
            task_id = rig.desk.task_of(talk)
            assert task_id is not None
            (entry,) = {e.entry_time for e in _queued(rig, task_id)}
            assert (await ann.post(f"{talk}/transfer", {"queue": "billing"}))[0] == 200
            await ann.next("gone")
            # Ann takes billing's chats too (no skills asked): offered again, in billing
            card = (await ann.next("offered"))["task"]
            assert (card["queue"], card["transferred_to"]) == ("billing", "queue billing")
            assert card["dispositions"] == ["refund", "explained"]
            task = rig.acd.task(task_id)
            assert task is not None
            assert task.queue == "billing"
            assert _queued(rig, task_id)[0].entry_time == entry
            await ann.post(f"{talk}/accept")
            await ann.next("accepted")
            status, answer = await ann.post(
                f"{talk}/close", {"status": "resolved", "disposition": "resolved"}
            )
            assert status == 422
            assert "not a disposition code" in answer["error"]
            assert (
                await ann.post(f"{talk}/close", {"status": "resolved", "disposition": "refund"})
            )[0] == 200
        await rig.desk.flush()
        closed = await rig.store.repository.get_interaction(talk)
        assert (closed.queue, closed.disposition) == ("billing", "refund")


def _queued(rig: Rig, task_id: str) -> list[Any]:
    """The router's view of a waiting or offered task, or of an accepted one (settled)."""
    calls = [c for c in rig.acd.distributor.router.calls() if c.call_id == task_id]
    if calls:
        return calls
    info = rig.acd.distributor._calls[task_id]  # the place an accepted task keeps
    assert info.settled is not None
    return [info.settled]


async def _notes(rig: Rig, conversation: int) -> list[str]:
    found = await rig.store.repository.get_interaction(conversation)
    customer = found.customer_id
    assert customer is not None
    timeline = await rig.store.repository.timeline(customer, limit=10)
    return [n.body for e in timeline.entries for n in e.notes if e.interaction.id == conversation]


async def test_beside_a_chat_the_agent_reads_the_customers_history_and_no_one_else_does(
    tmp_path: Path,
) -> None:
    """The chat's customer called last week about their bill and it is still open: the
    agent taking the chat reads who they are, that open issue and the timeline (the chat
    itself marked as the current one); a colleague who does not hold the chat is refused."""
    async with chat_rig(tmp_path, desk_rules=RULES) as rig:
        rig.acd.agent_event(Login("ann"))
        rig.acd.agent_event(Login("bob", paused_reason="training"))
        async with rig.agent("ann") as ann, rig.agent("bob") as bob, rig.visitor() as page:
            await ann.next("snapshot")
            talk = await _talk(rig, page, "still no answer about my bill")
            await ann.next("offered")
            repository = rig.store.repository
            customer_id = (await repository.get_interaction(talk)).customer_id
            assert customer_id is not None
            earlier = await repository.append_interaction(
                NewInteraction(
                    channel=Channel.VOICE,
                    customer_id=customer_id,
                    started_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=7),
                    intent="billing_question",
                    agent="bob",
                    idempotency_key="call-last-week",
                )
            )
            async with ann.http.get(f"{ann.base}page-api/agent/conversations/{talk}/customer") as r:
                assert r.status == 200
                history = await r.json()
            async with bob.http.get(f"{bob.base}page-api/agent/conversations/{talk}/customer") as r:
                assert r.status == 403
    assert history["customer"]["id"] == customer_id
    assert [i["id"] for i in history["open_issues"]] == [earlier.id]  # not the chat itself
    assert history["open_issues"][0]["agent_name"] == "Bob"
    shown = [(e["interaction"]["id"], e["current"]) for e in history["timeline"]]
    assert shown == [(talk, True), (earlier.id, False)]

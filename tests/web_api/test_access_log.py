"""The access log: every read of a customer's data over the API is recorded with the token
that made it (what, when, from where; never the values read nor the query string), and it
is exported by customer, by reader and by time (the API, the CLI, the customer's own export,
the admins' CSV), survives the customer's erasure without personal data, and is purged
after its retention period."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from history.access_log import AccessLog, NewAccess
from history.inputs import NewCustomer
from history.models import AccessRow
from history.repository import HistoryRepository
from history.store import create_engine, migrate
from hotline.cli import main
from hotline.web.access import ACCESS, AccessTrail
from tests.history.conftest import ManualClock

from .conftest import Api, Served

EMAIL = "reader.test@example.com"
HELLO = {"direction": "in", "author_kind": "customer", "body": "my card ends 4242"}

#: Every read operation that carries a customer's data, and how the test reaches it.
READS = {
    "findCustomer",
    "getCustomer",
    "customerTimeline",
    "openIssues",
    "recentContacts",
    "lastAgent",
    "customerNotes",
    "getInteraction",
    "getInteractionByRef",
    "getConversation",
    "downloadAttachment",
    "exportCustomer",
}


async def a_customer_with_everything(api: Api, token: str) -> dict[str, Any]:
    contact = {
        "channel": "chat",
        "identity": {"kind": "email", "value": EMAIL},
        "transcript": "please call me back",
        "status": "open",
    }
    written = await api.post(
        "/interactions", token, json_body=contact, headers={"Idempotency-Key": "k-1"}
    )
    assert written.status == 201, written.body
    customer = written.body["customer_id"]
    opened = await api.post(
        "/conversations",
        token,
        json_body={"channel": "chat", "customer_id": customer, "message": HELLO},
    )
    assert opened.status in (200, 201), opened.body
    talk = opened.body["conversation"]["id"]
    message = opened.body["message"]["id"]
    path = f"/conversations/{talk}/messages/{message}/attachments"
    data = base64.b64encode(b"receipt").decode()
    file = {"filename": "receipt.txt", "content_type": "text/plain", "data": data}
    attached = await api.post(path, token, json_body=file)
    assert attached.status == 201, attached.body
    return {
        "customer": customer,
        "interaction": written.body["id"],
        "conversation": talk,
        "attachment": f"{path}/{attached.body['id']}",
    }


async def read_everything(api: Api, token: str, admin: str, made: dict[str, Any]) -> None:
    customer = f"/customers/{made['customer']}"
    answers = [
        await api.get("/customers", token, params={"email": EMAIL}),
        await api.get(customer, token),
        await api.get(customer + "/timeline", token),
        await api.get(customer + "/open-issues", token),
        await api.get(customer + "/recent-contacts", token),
        await api.get(customer + "/last-agent", token),
        await api.get(customer + "/notes", token),
        await api.get(f"/interactions/{made['interaction']}", token),
        await api.get("/interactions/by-ref", token, params={"key": "k-1", "source": "chat"}),
        await api.get(f"/conversations/{made['conversation']}", token),
        await api.get(customer + "/export", admin),
    ]
    assert [a.status for a in answers] == [200] * len(answers), [a.body for a in answers]
    async with api.http.get(
        f"{api.base}/api/v1{made['attachment']}", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 200


async def test_every_read_of_a_customer_is_recorded_with_the_token_that_made_it(
    served: Served, api: Api, admin_token: str
) -> None:
    writer = await served.token("chat", "history:read", "history:write:chat", source="chat")
    made = await a_customer_with_everything(api, writer)
    await served.writer.flush()
    before = await api.get("/access-log", admin_token, params={"customer_id": made["customer"]})
    assert before.body["items"] == []  # writing a customer is not reading one

    reader = await served.token("reports", "history:read")
    await read_everything(api, reader, admin_token, made)
    await served.writer.flush()

    log = await api.get("/access-log", admin_token, params={"customer_id": made["customer"]})
    assert log.status == 200
    items = log.body["items"]
    assert {i["what"] for i in items} == READS
    by_reader = [i for i in items if i["actor"] == "reports"]
    assert len(by_reader) == len(READS) - 1  # the export was the admin token's
    for item in by_reader:
        assert item["actor_kind"] == "token"
        assert item["role"] == "history:read"
        assert item["address"] == "127.0.0.1"
        assert item["customer_id"] == made["customer"]
        assert item["route"].startswith("/api/v1/")
    assert "exportCustomer" in {i["what"] for i in items if i["actor"] == "admin"}
    # Nothing read is kept: no value, no query string (the e-mail was a query parameter).
    assert EMAIL not in json.dumps(items)
    assert all("?" not in i["route"] for i in items)
    assert {i["route"] for i in items if i["what"] == "customerTimeline"} == {
        "/api/v1/customers/{customer_id}/timeline"
    }


async def test_the_log_is_filtered_by_reader_and_time_and_read_on_by_pages(
    served: Served, api: Api, admin_token: str, clock: ManualClock
) -> None:
    writer = await served.token("chat", "history:read", "history:write:chat", source="chat")
    made = await a_customer_with_everything(api, writer)
    reader = await served.token("reports", "history:read")
    customer = f"/customers/{made['customer']}"
    await api.get(customer, reader)
    await served.writer.flush()
    middle = clock()
    clock.advance(hours=1)
    await api.get(customer + "/timeline", reader)
    await api.get(customer + "/notes", writer)
    await served.writer.flush()

    mine = await api.get("/access-log", admin_token, params={"actor": "reports"})
    assert [i["what"] for i in mine.body["items"]] == ["getCustomer", "customerTimeline"]
    later = await api.get(
        "/access-log", admin_token, params={"since": (middle + timedelta(seconds=1)).isoformat()}
    )
    assert [i["what"] for i in later.body["items"]] == ["customerTimeline", "customerNotes"]
    first = await api.get("/access-log", admin_token, params={"limit": 1})
    rest = await api.get(
        "/access-log", admin_token, params={"after_id": first.body["next_after_id"]}
    )
    assert len(first.body["items"]) + len(rest.body["items"]) == 3
    refused = await api.get("/access-log", reader)
    assert refused.status == 403  # privacy:admin only


async def test_the_customers_export_says_who_read_their_data_and_erasure_keeps_no_personal_data(
    served: Served, api: Api, admin_token: str, engine: AsyncEngine
) -> None:
    writer = await served.token("chat", "history:read", "history:write:chat", source="chat")
    made = await a_customer_with_everything(api, writer)
    reader = await served.token("reports", "history:read")
    await api.get(f"/customers/{made['customer']}/timeline", reader)
    await served.writer.flush()
    exported = await api.get(f"/customers/{made['customer']}/export", admin_token)
    assert [(a["actor"], a["what"]) for a in exported.body["accessed_by"]] == [
        ("reports", "customerTimeline")
    ]
    erased = await api.post(
        f"/customers/{made['customer']}/erase",
        admin_token,
        json_body={"by": "dpo", "reason": "request"},
    )
    assert erased.status == 200
    await served.writer.flush()
    async with engine.connect() as db:
        rows = (await db.execute(select(AccessRow))).all()
    assert len(rows) >= 2  # kept: who read the data before it was erased
    kept = " ".join(str(value) for row in rows for value in row)
    assert EMAIL not in kept
    assert "please call me back" not in kept


async def test_a_read_does_not_wait_for_a_locked_store_its_record_is_spooled_then_written(
    sqlite_served: Served,
) -> None:
    served = sqlite_served
    admin_token = await served.token("dpo", "privacy:admin")
    writer = await served.token("chat", "history:read", "history:write:chat", source="chat")
    made = await a_customer_with_everything(served.api, writer)
    await served.writer.flush()
    reader = await served.token("reports", "history:read")
    path = served.repository.engine.url.database
    assert path is not None
    blocker = sqlite3.connect(path, timeout=0)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # the store stops answering writes
        trail = served.app[ACCESS]
        trail.record(
            actor="sam",
            actor_kind="user",
            role="supervisor",
            customer_ids=[made["customer"]],
            what="screenPop",
            route="/page-api/agent/calls/{call_id}",
            address="127.0.0.5",
        )  # returns at once: nothing to await
        async with asyncio.timeout(30):
            while not served.writer.spooling:  # noqa: ASYNC110 (a property, no event to wait on)
                await asyncio.sleep(0.05)
    finally:
        blocker.rollback()  # the store answers again
        blocker.close()
    async with asyncio.timeout(30):
        await served.writer.drained()
    log = await served.api.get("/access-log", admin_token, params={"actor": "sam"})
    assert [(i["what"], i["address"]) for i in log.body["items"]] == [("screenPop", "127.0.0.5")]
    assert reader  # a token existed: the record is the page's, not a token's


async def test_records_older_than_the_retention_period_are_purged(engine: AsyncEngine) -> None:
    now = datetime(2027, 3, 1, tzinfo=UTC)
    log = AccessLog(engine, clock=lambda: now)
    old = NewAccess(
        actor="ada",
        actor_kind="user",
        role="admin",
        customer_id=1,
        what="screenPop",
        route="/x",
        at=now - timedelta(days=40),
    )
    recent = old.model_copy(update={"key": "recent", "at": now - timedelta(days=5)})
    await log.record([old, recent])
    trail = AccessTrail(log, retention_days=30, clock=lambda: now)
    assert await trail.purge() == 1
    assert [r.at for r in await log.query()] == [recent.at]


def test_the_cli_exports_the_log_as_csv_or_json_and_records_its_own_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    (config / "hotline.yaml").write_text(f"database:\n  url: {url}\n")

    async def setup() -> int:
        store = create_engine(url)
        try:
            await migrate(store)
            customer = await HistoryRepository(store).create_customer(NewCustomer(name="=cmd|x"))
            await AccessLog(store).record(
                [
                    NewAccess(
                        actor="=HYPERLINK(1)",
                        actor_kind="token",
                        role="history:read",
                        customer_id=customer.id,
                        what="getCustomer",
                        route="/api/v1/customers/{customer_id}",
                        address="127.0.0.9",
                    )
                ]
            )
            return customer.id
        finally:
            await store.dispose()

    customer = asyncio.run(setup())
    assert main(["customer", "export", str(customer), "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["customer", "access", "--customer", str(customer), "--config", str(config)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["what"] for r in rows] == ["getCustomer", "exportCustomer"]
    assert rows[0]["actor"] == "'=HYPERLINK(1)"  # no formula in a spreadsheet
    assert rows[1]["actor_kind"] == "cli"
    assert main(["customer", "access", "--actor", "=HYPERLINK(1)", "--format", "json",
                 "--config", str(config)]) == 0  # fmt: skip
    records = json.loads(capsys.readouterr().out)
    assert [r["address"] for r in records] == ["127.0.0.9"]
    future = "2999-01-01T00:00:00+00:00"
    assert main(["customer", "access", "--since", future, "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip().count("\n") == 0  # the header alone

"""A customer's conversations under the rights of access and erasure, over HTTP and from the
admin's shell: messages and attachments are exported, and erased with their files."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import stat
from pathlib import Path

import pytest

from history.attachments import AttachmentData, AttachmentStore
from history.conversations import Conversations
from history.identities import IdentityKind
from history.inputs import AuthorKind, Channel, Direction, IdentityIn, NewConversation, NewMessage
from history.repository import HistoryRepository
from history.store import create_engine
from hotline.cli import main

from .conftest import Api

SCAN = b"%PDF jane's passport scan"


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_an_admin_exports_and_erases_a_customers_conversations(
    api: Api, chat_token: str, admin_token: str, tmp_path: Path
) -> None:
    opened = await api.post(
        "/conversations",
        chat_token,
        json_body={
            "channel": "chat",
            "identity": {"kind": "chat", "value": "jane-d"},
            "message": {
                "direction": "in",
                "author_kind": "customer",
                "author_name": "Jane Doe",
                "body": "my passport number is X1234567",
            },
        },
    )
    talk, message = opened.body["conversation"], opened.body["message"]
    upload = {"filename": "passport.pdf", "data": base64.b64encode(SCAN).decode()}
    path = f"/conversations/{talk['id']}/messages/{message['id']}/attachments"
    assert (await api.post(path, chat_token, json_body=upload)).status == 201
    customer = f"/customers/{talk['customer_id']}"

    exported = await api.get(customer + "/export", admin_token)
    (held,) = exported.body["messages"]
    assert held["body"] == "my passport number is X1234567"
    assert held["attachments"][0]["sha256"] == hashlib.sha256(SCAN).hexdigest()

    erased = await api.post(
        customer + "/erase", admin_token, json_body={"by": "dpo", "reason": "r"}
    )
    assert erased.status == 200
    assert erased.body["removed"]["messages"] == 1
    assert erased.body["attachment_refs"] == ["sha256:" + hashlib.sha256(SCAN).hexdigest()]
    assert _files(tmp_path / "attachments") == []
    thread = await api.get(f"/conversations/{talk['id']}", chat_token)
    (kept,) = thread.body["messages"]
    assert (kept["body"], kept["author_name"], kept["attachments"]) == ("", None, [])
    after = json.dumps((await api.get(customer + "/export", admin_token)).body)
    for secret in ("X1234567", "Jane", "passport", "jane-d"):
        assert secret not in after


@pytest.fixture
def shell(sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config directory whose store and attachment directory are the test's own."""
    monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    shutil.copy(sqlite_template, tmp_path / "hotline.db")
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "hotline.yaml").write_text(
        f"database:\n  url: sqlite+aiosqlite:///{tmp_path / 'hotline.db'}\n"
        f"  attachments: {tmp_path / 'attachments'}\n",
        encoding="utf-8",
    )
    return directory


def _seed(tmp_path: Path) -> int:
    async def write() -> int:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
        try:
            history = HistoryRepository(
                engine, attachments=AttachmentStore(tmp_path / "attachments")
            )
            conversations = Conversations(history)
            opened = await conversations.open_conversation(
                NewConversation(
                    channel=Channel.EMAIL,
                    identity=IdentityIn(kind=IdentityKind.EMAIL, value="jane@example.com"),
                )
            )
            await conversations.append_message(
                NewMessage(
                    conversation_id=opened.conversation.id,
                    direction=Direction.IN,
                    author_kind=AuthorKind.CUSTOMER,
                    body="scan attached",
                ),
                [AttachmentData("passport.pdf", "application/pdf", SCAN)],
            )
            assert opened.conversation.customer_id is not None
            return opened.conversation.customer_id
        finally:
            await engine.dispose()

    return asyncio.run(write())


def test_the_shell_exports_the_files_and_erasure_deletes_them(
    shell: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = str(_seed(tmp_path))
    files = tmp_path / "export-files"
    out = tmp_path / "export.json"
    config = ("--config", str(shell))
    assert (
        main(["customer", "export", customer, "--out", str(out), "--files", str(files), *config])
        == 0
    )
    exported = json.loads(out.read_text(encoding="utf-8"))
    (attachment,) = exported["messages"][0]["attachments"]
    copy = files / attachment["sha256"]
    assert copy.read_bytes() == SCAN
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600

    erase = ["customer", "erase", customer, "--by", "dpo", "--reason", "request", *config]
    assert main(erase) == 1
    assert "1 messages" in capsys.readouterr().err
    assert main([*erase, "--yes"]) == 0
    assert "attachment_files=1" in capsys.readouterr().out
    assert _files(tmp_path / "attachments") == []

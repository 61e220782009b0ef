"""The admin's shell: ``hotline token ...`` and ``hotline customer export|erase``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn, NewInteraction, NewNote
from history.models import ApiIdempotencyRow, ApiTokenRow
from history.repository import HistoryRepository
from history.store import create_engine
from hotline.cli import main
from hotline.web.api.context import ApiSettings
from tests.history.conftest import ManualClock

from .conftest import serve


@pytest.fixture
def store_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "hotline.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def config_dir(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "hotline.yaml").write_text(f"database:\n  url: {store_url}\n", encoding="utf-8")
    return directory


def run(*argv: str) -> int:
    return main(list(argv))


def stored_tokens(url: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(select(ApiTokenRow.__table__))
                return [dict(r._mapping) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_token_create_prints_the_token_once_and_stores_only_its_hash(
    config_dir: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    scopes = ["--scope", "history:read", "history:write:chat"]
    assert run("token", "create", "chat", *scopes, "--config", str(config_dir)) == 0
    printed = capsys.readouterr()
    secret = printed.out.strip()
    assert secret.startswith("hl_")
    assert len(secret) >= 3 + 43  # 32 random bytes, URL-safe base64
    assert printed.out == secret + "\n"  # alone on stdout, for TOKEN=$(...)
    assert "not shown again" in printed.err

    (row,) = stored_tokens(store_url)
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in str(value) for value in row.values())
    assert (row["name"], row["source"], row["scopes"]) == (
        "chat",
        "chat",
        ["history:read", "history:write:chat"],
    )

    assert run("token", "list", "--config", str(config_dir)) == 0
    listing = capsys.readouterr().out
    assert "history:write:chat" in listing
    assert secret not in listing


def test_the_printed_token_opens_the_api_until_it_is_revoked(
    config_dir: Path, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run("token", "create", "chat", "--scope", "history:read", "--config", str(config_dir))
    secret = capsys.readouterr().out.strip()

    async def status() -> int:
        engine = create_engine(store_url)
        try:
            settings = ApiSettings(token_fresh_s=0.0)
            async for served in serve(engine, ManualClock(), tmp_path / "spool", settings):
                answer = await served.api.get("/customers", secret, params={"chat": "x"})
                return answer.status
        finally:
            await engine.dispose()
        raise AssertionError("not served")

    assert asyncio.run(status()) == 200
    assert run("token", "revoke", "chat", "--config", str(config_dir)) == 0
    assert "revoked" in capsys.readouterr().out
    assert asyncio.run(status()) == 401


def test_token_names_are_unique_and_scopes_known(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create = ("token", "create", "chat", "--scope", "history:read", "--config", str(config_dir))
    assert run(*create) == 0
    assert run(*create) == 1
    assert "exists" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        run("token", "create", "x", "--scope", "history:everything", "--config", str(config_dir))
    assert refused.value.code == 2
    assert run("token", "revoke", "nobody", "--config", str(config_dir)) == 1


def seed(url: str) -> int:
    """A customer with a call (transcript, recording), a note and an API fingerprint."""

    async def write() -> int:
        engine = create_engine(url)
        try:
            repository = HistoryRepository(engine)
            call = await repository.append_interaction(
                NewInteraction(
                    channel=Channel.VOICE,
                    identity=IdentityIn(kind=IdentityKind.PHONE, value="07700 900123"),
                    transcript="my card number is ...",
                    recording_ref="rec/1795.17.wav",
                    source="chat",
                    idempotency_key="k1",
                )
            )
            await repository.add_note(NewNote(author="a1", body="VIP", interaction_id=call.id))
            async with engine.begin() as connection:
                await connection.execute(
                    insert(ApiIdempotencyRow).values(
                        source="chat",
                        operation="interaction",
                        key="k1",
                        fingerprint="0" * 64,
                        created_at=call.created_at,
                    )
                )
            assert call.customer_id is not None
            return call.customer_id
        finally:
            await engine.dispose()

    return asyncio.run(write())


def test_customer_export_writes_everything_held_to_a_private_file(
    config_dir: Path, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = seed(store_url)
    out = tmp_path / "export.json"
    assert (
        run("customer", "export", str(customer), "--out", str(out), "--config", str(config_dir))
        == 0
    )
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported["customer"]["identities"][0]["value"] == "+447700900123"
    assert exported["interactions"][0]["transcript"] == "my card number is ..."
    assert [n["body"] for n in exported["notes"]] == ["VIP"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    capsys.readouterr()
    assert run("customer", "export", str(customer), "--config", str(config_dir)) == 0
    assert json.loads(capsys.readouterr().out)["customer"]["id"] == customer
    assert run("customer", "export", "4242", "--config", str(config_dir)) == 1


def test_customer_erase_needs_yes_then_removes_the_personal_data(
    config_dir: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = seed(store_url)
    erase = ("customer", "erase", str(customer), "--by", "dpo", "--reason", "request 117")
    assert run(*erase, "--config", str(config_dir)) == 1
    assert "add --yes" in capsys.readouterr().err

    assert run(*erase, "--yes", "--config", str(config_dir)) == 0
    said = capsys.readouterr().out
    assert "identities=1" in said
    assert "rec/1795.17.wav" in said  # for the recording store to delete

    assert run("customer", "export", str(customer), "--config", str(config_dir)) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["customer"]["identities"] == []
    assert after["customer"]["erased_at"] is not None
    assert after["interactions"][0]["transcript"] is None
    assert after["interactions"][0]["channel"] == "voice"  # kept for the KPIs
    assert after["notes"] == []
    assert after["erasures"][0]["erased_by"] == "dpo"

    async def fingerprints() -> int:
        engine = create_engine(store_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(select(ApiIdempotencyRow.__table__))
                return len(rows.all())
        finally:
            await engine.dispose()

    assert asyncio.run(fingerprints()) == 0

"""A customer's call recordings under the rights of access and erasure from the admin's
shell (``hotline customer export --files``, ``customer erase``): the recordings are copied
with the export and deleted from ``recording.directory`` with the customer."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import stat
from pathlib import Path

import pytest

from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn, NewCustomer, NewInteraction
from history.recordings import RecordingWrite
from history.repository import HistoryRepository
from history.store import create_engine
from hotline.cli import main

AUDIO = b"RIFF....WAVEfmt the customer's voice"


@pytest.fixture
def shell(sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config directory whose store and recording directory are the test's own."""
    monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    shutil.copy(sqlite_template, tmp_path / "hotline.db")
    (tmp_path / "recordings").mkdir()
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "hotline.yaml").write_text(
        f"database:\n  url: sqlite+aiosqlite:///{tmp_path / 'hotline.db'}\n"
        f"  attachments: {tmp_path / 'attachments'}\n"
        f"recording:\n  directory: {tmp_path / 'recordings'}\n",
        encoding="utf-8",
    )
    return directory


def _seed(tmp_path: Path) -> tuple[int, Path]:
    """A customer's recorded call: the interaction, its recording row, the file."""
    path = tmp_path / "recordings" / "1700000000.7.wav"
    path.write_bytes(AUDIO)

    async def write() -> int:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
        try:
            history = HistoryRepository(engine)
            customer = await history.create_customer(
                NewCustomer(
                    name="Omar Caller",
                    identities=(IdentityIn(kind=IdentityKind.PHONE, value="+971501110099"),),
                )
            )
            now = dt.datetime.now(dt.UTC)
            await history.append_interaction(
                NewInteraction(
                    channel=Channel.VOICE,
                    customer_id=customer.id,
                    started_at=now,
                    source="hotline",
                    external_id="1700000000.7",
                    idempotency_key="1700000000.7",
                )
            )
            await history.write_recording(
                RecordingWrite(
                    source="hotline",
                    call_id="1700000000.7",
                    at=now,
                    status="recorded",
                    consent="given",
                    path=str(path),
                    expires_at=now + dt.timedelta(days=90),
                )
            )
            return customer.id
        finally:
            await engine.dispose()

    return asyncio.run(write()), path


def test_the_shell_exports_the_recordings_and_erasure_deletes_them(
    shell: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    customer, path = _seed(tmp_path)
    files = tmp_path / "export-files"
    out = tmp_path / "export.json"
    config = ("--config", str(shell))
    export = ["customer", "export", str(customer), "--out", str(out), "--files", str(files)]
    assert main([*export, *config]) == 0
    assert "1 call recordings copied" in capsys.readouterr().err
    (recording,) = json.loads(out.read_text(encoding="utf-8"))["call_recordings"]
    assert (recording["path"], recording["consent"]) == (str(path), "given")
    copy = files / f"recording-{recording['id']}.wav"
    assert copy.read_bytes() == AUDIO
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600

    erase = ["customer", "erase", str(customer), "--by", "dpo", "--reason", "request", *config]
    assert main(erase) == 1  # a dry run without --yes
    assert path.exists()
    assert main([*erase, "--yes"]) == 0
    printed = capsys.readouterr().out
    assert "call_recordings=1" in printed
    assert "delete these recordings" not in printed  # deleted, nothing left to do by hand
    assert not path.exists()

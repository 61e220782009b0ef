"""TOTP secrets sealed at rest: the secret's bytes never reach the database file (nor its
WAL), a secret kept in clear by an older version is sealed at start and still works, a key
rotation seals every value again, and a value written into the database in clear (or moved
from another user's row) is refused."""

from __future__ import annotations

import asyncio
import base64
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from history.models import WebUserRow
from history.store import create_engine, flush_erased, migrate
from hotline.app import Hotline
from hotline.web.auth.secret_box import (
    KEYS_VARIABLE,
    SecretBox,
    SecretKeyError,
    key_id,
    new_key,
)
from hotline.web.auth.totp import new_secret, secret_bytes, totp
from hotline.web.auth.two_factor import TwoFactorStore, Verdict
from hotline.web.auth.users import Role, UserStore
from hotline.workers import WorkPool
from tests.ports import unused_port
from tests.web.support import PASSWORD, shipped_config

HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
NOW = 1_900_000_000.0


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    store = create_engine(f"sqlite+aiosqlite:///{tmp_path}/web.db")
    await migrate(store)
    users = UserStore(store, hasher=HASHER, hashing=WorkPool("test-hash"))
    await users.add("sam", Role.SUPERVISOR, PASSWORD)
    await users.add("ada", Role.ADMIN, PASSWORD)
    try:
        yield store
    finally:
        users.hashing.close()
        await store.dispose()


def two_factor(engine: AsyncEngine, box: SecretBox, now: float = NOW) -> TwoFactorStore:
    return TwoFactorStore(
        engine, hasher=HASHER, hashing=WorkPool("test-2fa"), unix_clock=lambda: now, box=box
    )


def code(secret: str, at: float) -> str:
    return totp(secret_bytes(secret), at)


def database_bytes(tmp_path: Path) -> bytes:
    files = (tmp_path / "web.db", tmp_path / "web.db-wal")
    return b"".join(path.read_bytes() for path in files if path.exists())


async def stored(engine: AsyncEngine, name: str) -> str | None:
    async with engine.connect() as db:
        return await db.scalar(select(WebUserRow.totp_secret).where(WebUserRow.name == name))


def forms(secret: str) -> tuple[bytes, ...]:
    raw = secret_bytes(secret)
    return (secret.encode(), secret.lower().encode(), raw, base64.b64encode(raw))


def anywhere(secret: str, haystack: bytes) -> bool:
    return any(form in haystack for form in forms(secret))


def assert_nowhere(secret: str, haystack: bytes) -> None:
    for form in forms(secret):
        assert form not in haystack


def test_a_sealed_value_opens_only_for_its_row_and_with_its_key() -> None:
    box = SecretBox.ephemeral()
    sealed = box.seal("JBSWY3DPEHPK3PXP", context="web_users.totp_secret:1")
    assert sealed.startswith(f"v1:{box.current_id}:")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert box.open(sealed, context="web_users.totp_secret:1") == "JBSWY3DPEHPK3PXP"
    assert sealed != box.seal("JBSWY3DPEHPK3PXP", context="web_users.totp_secret:1")  # nonce
    with pytest.raises(SecretKeyError):  # moved onto another user's row
        box.open(sealed, context="web_users.totp_secret:2")
    with pytest.raises(SecretKeyError):  # altered
        box.open(sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB"), context="x")
    with pytest.raises(SecretKeyError):  # another key
        SecretBox.ephemeral().open(sealed, context="web_users.totp_secret:1")
    with pytest.raises(SecretKeyError):  # never sealed
        box.open("JBSWY3DPEHPK3PXP", context="web_users.totp_secret:1")


def test_the_key_file_is_created_once_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret.keys"
    first = SecretBox.load(path, environ={})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = SecretBox.load(path, environ={})
    assert again.current_id == first.current_id
    sealed = first.seal("ABC", context="c")
    assert again.open(sealed, context="c") == "ABC"


def test_the_environment_gives_the_keys_first_one_seals(tmp_path: Path) -> None:
    new, old = new_key(), new_key()
    box = SecretBox.load(tmp_path / "unused.keys", environ={KEYS_VARIABLE: f"{new}, {old}"})
    assert box.current_id == key_id(base64.urlsafe_b64decode(new))
    assert not (tmp_path / "unused.keys").exists()
    with pytest.raises(SecretKeyError):
        SecretBox.load(tmp_path / "x", environ={KEYS_VARIABLE: "not-a-key"})


async def test_the_secret_never_reaches_the_database_file(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    store = two_factor(engine, SecretBox.ephemeral())
    secret = new_secret()
    assert await store.enrol("sam", secret, code(secret, NOW)) is not None
    assert await store.verify("sam", code(secret, NOW + 30)) is Verdict.ACCEPTED
    value = await stored(engine, "sam")
    assert value is not None
    assert value.startswith("v1:")
    assert_nowhere(secret, database_bytes(tmp_path))
    await flush_erased(engine)  # the WAL's pages into the file
    assert_nowhere(secret, database_bytes(tmp_path))


async def test_a_secret_kept_in_clear_is_sealed_at_start_and_still_works(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """As a version before sealing left it: the base32 secret itself in the row."""
    secret = new_secret()
    async with engine.begin() as db:
        await db.execute(
            update(WebUserRow).where(WebUserRow.name == "sam").values(totp_secret=secret)
        )
    await flush_erased(engine)
    assert secret.encode() in database_bytes(tmp_path)  # the test sees the clear text first
    store = two_factor(engine, SecretBox.ephemeral())
    assert await store.seal_stored_secrets() == 1
    assert await store.seal_stored_secrets() == 0  # done once
    assert_nowhere(secret, database_bytes(tmp_path))
    assert await store.verify("sam", code(secret, NOW)) is Verdict.ACCEPTED


async def test_a_rotation_seals_every_secret_with_the_new_key(engine: AsyncEngine) -> None:
    old, new = base64.urlsafe_b64decode(new_key()), base64.urlsafe_b64decode(new_key())
    secret = new_secret()
    assert await two_factor(engine, SecretBox([old])).enrol("sam", secret, code(secret, NOW))
    rotating = two_factor(engine, SecretBox([new, old]), now=NOW + 30)
    assert await rotating.seal_stored_secrets() == 1
    value = await stored(engine, "sam")
    assert value is not None
    assert value.startswith(f"v1:{key_id(new)}:")
    # the old key may go now
    after = two_factor(engine, SecretBox([new]), now=NOW + 60)
    assert await after.verify("sam", code(secret, NOW + 60)) is Verdict.ACCEPTED


async def test_a_secret_written_in_clear_or_moved_from_another_row_is_refused(
    engine: AsyncEngine,
) -> None:
    """Once the start-up sealing ran, every value is sealed: one in clear, or a sealed one
    copied from sam's row onto ada's, is not used (a writer of the database could clear
    the column instead: sealing guards copies of the database, not writes to it)."""
    box = SecretBox.ephemeral()
    store = two_factor(engine, box)
    secret = new_secret()
    assert await store.enrol("sam", secret, code(secret, NOW)) is not None
    sams = await stored(engine, "sam")
    async with engine.begin() as db:
        await db.execute(
            update(WebUserRow).where(WebUserRow.name == "ada").values(totp_secret=sams)
        )
    later = two_factor(engine, box, now=NOW + 30)
    assert await later.verify("ada", code(secret, NOW + 30)) is Verdict.WRONG
    planted = new_secret()
    async with engine.begin() as db:
        await db.execute(
            update(WebUserRow).where(WebUserRow.name == "ada").values(totp_secret=planted)
        )
    assert await later.verify("ada", code(planted, NOW + 30)) is Verdict.WRONG


async def test_the_service_seals_a_clear_secret_at_start_with_its_key_file(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """An upgrade: the database of a version that kept secrets in clear, a service started
    on it with no key yet: the key file is made (0600) and the secret sealed under it."""
    secret = new_secret()
    async with engine.begin() as db:
        await db.execute(
            update(WebUserRow).where(WebUserRow.name == "sam").values(totp_secret=secret)
        )
    key_file = tmp_path / "var" / "secret.keys"
    config = shipped_config(
        tmp_path,
        agi_port=unused_port(),
        ami_port=unused_port(),
        overrides={
            "database.url": f"sqlite+aiosqlite:///{tmp_path}/web.db",
            "web.sign_in.two_factor.key_file": str(key_file),
        },
    )
    service = Hotline(config, environ={})
    async with asyncio.timeout(10):
        await service.start()
    try:
        for _ in range(200):  # sealed in the background once the schema is up, then the
            # SQLite file checkpointed: the clear text gone from the WAL too
            sealed = str(await stored(engine, "sam")).startswith("v1:")
            if sealed and not anywhere(secret, database_bytes(tmp_path)):
                break
            await asyncio.sleep(0.05)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert_nowhere(secret, database_bytes(tmp_path))
        box = SecretBox.load(key_file, environ={})
        store = two_factor(engine, box)
        assert await store.verify("sam", code(secret, NOW)) is Verdict.ACCEPTED
    finally:
        async with asyncio.timeout(10):
            await service.close()

"""The demo signs in with fresh random passwords per role, printed once: no default password."""

from __future__ import annotations

import asyncio
import io
import random
import re
from pathlib import Path

from history.store import create_engine
from hotline.config import load_config
from hotline.demo import run_demo
from hotline.web.auth.users import UserStore


async def test_the_demo_creates_one_user_per_role_with_a_printed_random_password(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/var/hotline.db"
    config = load_config(
        None,
        environ={},
        overrides={"fastagi.port": 0, "web.port": 0, "speech.enabled": False, "database.url": url},
    )
    passwords: list[dict[str, str]] = []
    for seed in (1, 2):
        out = io.StringIO()
        async with asyncio.timeout(15):
            await run_demo(
                config, duration_s=0.3, out=out, rng=random.Random(seed), time_scale=0.01
            )
        found = re.findall(r"web user (\S+) \((\w+)\) password (\S+)", out.getvalue())
        assert {role for _, role, _ in found} == {"agent", "supervisor", "admin"}
        passwords.append({name: password for name, _, password in found})
    assert passwords[0]["demo-admin"] != passwords[1]["demo-admin"]
    engine = create_engine(url)
    try:
        users = UserStore(engine)
        assert await users.authenticate("demo-admin", passwords[1]["demo-admin"]) is not None
        assert await users.authenticate("demo-admin", passwords[0]["demo-admin"]) is None
    finally:
        await engine.dispose()

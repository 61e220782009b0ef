"""``hotline demo`` drives real traffic through the service and stops on its own."""

from __future__ import annotations

import asyncio
import io
import random
from pathlib import Path

from hotline.config import load_config
from hotline.demo import run_demo


async def test_demo_places_calls_prints_the_web_url_and_stops_after_its_duration(
    tmp_path: Path,
) -> None:
    config = load_config(
        None,
        environ={},
        overrides={
            "fastagi.port": 0,
            "web.port": 0,
            "speech.enabled": False,  # models are tested in tests/ivr/speech
            "database.url": f"sqlite+aiosqlite:///{tmp_path}/var/hotline.db",
        },
    )
    out = io.StringIO()
    before = asyncio.all_tasks()
    async with asyncio.timeout(10):
        traffic = await run_demo(
            config,
            duration_s=1.0,
            calls_per_minute=60,
            out=out,
            rng=random.Random(7),
            time_scale=0.01,
        )
    assert "web http://127.0.0.1:" in out.getvalue()
    assert traffic.placed >= 5
    assert traffic.results, "no call finished"
    # No queue is configured: every call goes to the fallback, unless its caller (an
    # "abandons" profile) hung up first, which a loaded machine can let happen.
    assert any(result.fallback_used for result in traffic.results)
    assert all(r.fallback_used or r.hung_up_by == "caller" for r in traffic.results)
    assert asyncio.all_tasks() - before == set()

"""The README's receiver example (the ```python block of its Webhooks section) accepts what
hotline signs and refuses what it must: module authors copy it as written."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.webhooks.events import make_event
from channels.webhooks.signing import sign

README = Path(__file__).resolve().parents[3] / "README.md"
SECRET, OLD = "whsec-module-0123456789", "whsec-older-0123456789"

Verify = Callable[[str, bytes, str], bool]


@pytest.fixture(scope="module")
def verify() -> Verify:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Webhooks") :]
    [code] = re.findall(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)[:1]
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md (Webhooks)", "exec"), namespace)
    function = namespace["verify"]
    assert callable(function)
    return function


def signed(secrets: list[str], *, age_s: int = 0) -> tuple[str, bytes]:
    body = make_event("message.created", {"text": "مرحبا"}, now=datetime.now(UTC)).body
    return sign(body, secrets, int(time.time()) - age_s), body


def test_the_example_accepts_a_request_hotline_signed(verify: Verify) -> None:
    header, body = signed([SECRET])

    assert verify(header, body, SECRET)


def test_the_example_accepts_either_secret_during_a_rotation(verify: Verify) -> None:
    header, body = signed([SECRET, OLD])

    assert verify(header, body, SECRET)
    assert verify(header, body, OLD)


def test_the_example_refuses_tampering_other_secrets_old_requests_and_garbage(
    verify: Verify,
) -> None:
    header, body = signed([SECRET])
    stale_header, stale_body = signed([SECRET], age_s=301)

    assert not verify(header, body + b" ", SECRET)
    assert not verify(header, body, "someone-else-0123456789")
    assert not verify(stale_header, stale_body, SECRET)
    assert not verify("garbage", body, SECRET)
    assert not verify(header.split(",")[1], body, SECRET)  # no t=

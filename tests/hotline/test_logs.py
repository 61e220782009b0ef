"""Log lines never carry a caller's full phone number."""

from __future__ import annotations

import io
import logging

import pytest

from history.masking import mask_text
from hotline.logs import configure_logging


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call from 0612345678", "call from 06****5678"),
        ("caller +15551234567 waits", "caller +15*****4567 waits"),
        ("agi_callerid: 5551234", "agi_callerid: ***1234"),
        ("mail jane@example.com", "mail j***@example.com"),
    ],
)
def test_phone_numbers_and_emails_are_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "uniqueid 1795356299.0",
        "channel SIP/agent1001-00000012",
        "peer 127.0.0.1:4573",
        "extension 100 priority 3",
        "date 2026-11-22",
    ],
)
def test_identifiers_that_are_not_phone_numbers_are_left_alone(text: str) -> None:
    assert mask_text(text) == text


def test_service_handler_masks_numbers_passed_as_arguments() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", stream=stream)
    try:
        logging.getLogger("hotline.test").info("call from %s", "0612345678")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert "06****5678" in stream.getvalue()
    assert "0612345678" not in stream.getvalue()

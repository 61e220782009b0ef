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
        # the forms issue 16 found unmasked
        ("spaced +44 1632 960123 ok", "spaced +44******0123 ok"),
        ("dotted 01632.960.123", "dotted 01*****0123"),
        ("french 06.12.34.56.78", "french 06****5678"),
        ("prefixed 0044 1632 960123", "prefixed 00********0123"),
        ("dashed 555-123-4567", "dashed 55****4567"),
        ("uri tel:+441632960123", "uri tel:+44******0123"),
        ("from <sip:+441632960123@10.0.0.5>", "from <sip:+44******0123@10.0.0.5>"),
        ("channel PJSIP/0612345678-00000001", "channel PJSIP/06****5678-00000001"),
        ("Local/0612345678@from-internal-0000002a;1", "Local/06****5678@from-internal-0000002a;1"),
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
        "at 2026-11-22T09:30:00+00:00",
        "uniqueid 1795356299.123",
        "address 192.168.100.200",
        "took 0.123456789 s",
        "channel PJSIP/trunk-00000001",
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

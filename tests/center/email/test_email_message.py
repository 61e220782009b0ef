"""An inbound e-mail as the history keeps it: keyed by its Message-ID (or a digest when it
has none or one too long), fitted to the store's columns and caps, the address a reply goes
to kept in the author's name and read back from it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from center.email_message import (
    MAX_AUTHOR_CHARS,
    MAX_HEADER_CHARS,
    NOTES_HEADING,
    address_of,
    author_label,
    is_synthetic,
    stored_email,
)
from channels.email.limits import MailLimits, MailRefused
from channels.email.message import InboundEmail, SmtpEnvelope, parse_email
from history.conversations import MessageLimits
from tests.center.email.support import customer_mail

LIMITS = MessageLimits()
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def read(raw: bytes, mail_from: str = "nadia@example.com") -> InboundEmail:
    envelope = SmtpEnvelope("192.0.2.1", "mta.example.com", mail_from, ("support@hotline.test",))
    return parse_email(raw, MailLimits(), NOW, envelope)


def test_a_message_is_kept_by_its_message_id_and_threaded_by_the_ids_it_names() -> None:
    raw = customer_mail("hi", message_id="<m3@example.com>", in_reply_to="<r2@hotline.test>",
                        references=("<m1@example.com>", "<r2@hotline.test>"))  # fmt: skip
    kept = stored_email(read(raw), raw, LIMITS)
    assert kept.external_id == "<m3@example.com>"
    assert kept.thread_keys == ("<m3@example.com>", "<r2@hotline.test>", "<m1@example.com>")
    assert (kept.in_reply_to, kept.references) == (
        "<r2@hotline.test>",
        "<m1@example.com> <r2@hotline.test>",
    )
    assert (kept.sender, kept.identity) == ("nadia@example.com", "nadia@example.com")
    assert kept.author_name == "Nadia Haddad <nadia@example.com>"
    assert not kept.automatic


def test_without_a_message_id_the_bytes_key_it_so_a_retry_is_still_recognised() -> None:
    raw = customer_mail("hi", message_id="<x@example.com>").replace(
        b"Message-ID: <x@example.com>\r\n", b""
    )
    first, again = stored_email(read(raw), raw, LIMITS), stored_email(read(raw), raw, LIMITS)
    assert first.external_id == again.external_id
    assert is_synthetic(first.external_id)
    other = raw.replace(b"hi", b"hello")
    assert stored_email(read(other), other, LIMITS).external_id != first.external_id


def test_an_id_longer_than_the_store_holds_is_kept_as_its_digest() -> None:
    long_id = f"<{'x' * 300}@example.com>"
    raw = customer_mail("hi", message_id=long_id)
    kept = stored_email(read(raw), raw, LIMITS)
    assert is_synthetic(kept.external_id)
    assert len(kept.external_id) <= 255
    assert kept.external_id == stored_email(read(raw), raw, LIMITS).external_id


def test_the_reply_goes_to_reply_to_then_from_then_the_envelope() -> None:
    raw = customer_mail(
        "hi", message_id="<a@example.com>", headers={"Reply-To": "Desk <Desk@Example.COM>"}
    )
    assert stored_email(read(raw), raw, LIMITS).sender == "Desk@example.com"
    no_from = customer_mail("hi", message_id="<b@example.com>", sender=("", "not an address"))
    kept = stored_email(read(no_from, "bounce-to@example.net"), no_from, LIMITS)
    assert (kept.sender, kept.author_name) == ("bounce-to@example.net", "bounce-to@example.net")
    with pytest.raises(MailRefused):
        stored_email(read(no_from, ""), no_from, LIMITS)


def test_mail_from_our_own_address_counts_as_automatic() -> None:
    raw = customer_mail("loop", message_id="<l@hotline.test>", sender=("", "Support@hotline.test"))
    own = frozenset({"support@hotline.test"})
    assert stored_email(read(raw), raw, LIMITS, own_addresses=own).automatic


def test_the_author_label_fits_its_column_and_gives_the_address_back() -> None:
    assert author_label("", "a@example.com") == "a@example.com"
    assert author_label("Ann <boss>", "a@example.com") == "Ann boss <a@example.com>"
    long = author_label("N" * 500, "a@example.com")
    assert len(long) == MAX_AUTHOR_CHARS
    assert address_of(long) == "a@example.com"
    assert address_of("Nadia Haddad <nadia@example.com>") == "nadia@example.com"
    assert address_of("a@example.com") == "a@example.com"
    assert address_of("Nadia") is None
    assert address_of(None) is None


def test_a_body_over_the_cap_is_cut_and_says_so_within_the_cap() -> None:
    raw = customer_mail("word " * 400, message_id="<long@example.com>")
    kept = stored_email(read(raw), raw, MessageLimits(max_body_chars=500))
    assert len(kept.body) <= 500
    text, notes = kept.body.split("\n\n", 1)
    assert text.startswith("word word")
    assert notes.splitlines() == [
        NOTES_HEADING,
        "- body: cut to fit 500 characters (it had 1999)",
    ]


def test_references_over_the_column_keep_the_newest() -> None:
    ids = [f"<{i:04d}.{'r' * 600}@example.com>" for i in range(100)]  # 62 KB of ids
    folded = "References: " + "\r\n ".join(ids) + "\r\n"  # one id a line, as mailers fold
    raw = customer_mail("hi", message_id="<refs@example.com>").replace(
        b"Message-ID:", folded.encode() + b"Message-ID:"
    )
    kept = stored_email(read(raw), raw, LIMITS)
    assert kept.references is not None
    assert len(kept.references) <= MAX_HEADER_CHARS
    assert kept.references.endswith(ids[-1])
    assert not kept.references.startswith(ids[0])

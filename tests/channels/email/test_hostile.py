"""Hostile messages: each has a defined outcome, within the limits, and never a crash."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email.limits import KIB, MailLimits, MailRefused
from channels.email.message import InboundEmail, parse_email
from tests.channels.email import samples
from tests.channels.email.samples import RECEIVED_AT, message

LIMITS = MailLimits()


def parse(raw: bytes, limits: MailLimits = LIMITS) -> InboundEmail:
    return parse_email(raw, limits, RECEIVED_AT)


def test_a_mime_bomb_of_deep_nesting_is_not_opened_and_its_siblings_are_read() -> None:
    email = parse(samples.nested_multiparts(5000))
    assert email.body == "visible text\n\nafter the bomb"
    [refusal] = email.refused
    assert refusal.what == "part 15 (multipart/mixed)"
    assert refusal.reason == "nested 13 deep, over the limit of 12: not opened"


def test_nesting_within_the_limit_is_read_to_the_bottom() -> None:
    email = parse(samples.nested_multiparts(10))
    assert email.body == "visible text\n\ndeep text\n\nafter the bomb"
    assert email.refused == ()


def test_ten_thousand_parts_stop_at_the_part_limit_keeping_what_was_read() -> None:
    email = parse(samples.many_parts(10_000), MailLimits(max_parts=50))
    assert email.body.split("\n\n") == [f"part {i}" for i in range(49)]  # the top is a part
    assert [str(r) for r in email.refused] == [
        "parts after the 50th: more than 50 MIME parts: the rest was not read"
    ]


def test_a_top_header_section_over_the_limit_refuses_the_message() -> None:
    raw = message("From: a@example.com\nX-Junk: " + "x" * (300 * KIB))
    with pytest.raises(MailRefused) as refused:
        parse(raw)
    assert refused.value.reason.startswith("header section of 307")
    assert refused.value.reason.endswith("bytes is over the limit of 262144")


def test_a_huge_subject_within_the_header_limit_is_cut() -> None:
    raw = message("From: a@example.com\nSubject: " + "word " * 40_000)
    email = parse(raw)
    assert len(email.subject) == 998
    assert email.subject.startswith("word word")


def test_part_headers_over_the_budget_stop_the_reading() -> None:
    junk = "X-Junk: " + "y" * (40 * KIB) + "\r\n"
    parts = "".join(f"--P\r\n{junk}Content-Type: text/plain\r\n\r\ntext {i}\r\n" for i in range(5))
    raw = message(
        'From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="P"',
        (parts + "--P--\r\n").encode(),
    )
    email = parse(raw, MailLimits(max_header_bytes=100 * KIB))
    assert email.body == "text 0\n\ntext 1"
    assert [r.what for r in email.refused] == ["part 4 and after"]


def test_an_oversized_attachment_is_dropped_and_noted_the_rest_kept() -> None:
    raw = samples.with_attachment(b"\x01" * 300_000, "big.bin", "application/octet-stream")
    email = parse(raw, MailLimits(max_attachment_bytes=100_000))
    assert email.body == "see attached"
    assert email.attachments == ()
    [refusal] = email.refused
    assert refusal.what == "attachment 'big.bin'"
    assert refusal.reason == "about 299997 bytes, over the limit of 100000"


def test_an_attachment_just_over_the_cap_is_caught_after_decoding() -> None:
    raw = samples.with_attachment(b"\x02" * 1001, "a.bin", "application/octet-stream")
    email = parse(raw, MailLimits(max_attachment_bytes=1000))
    assert email.attachments == ()
    assert [str(r) for r in email.refused] == [
        "attachment 'a.bin': 1001 bytes, over the limit of 1000"
    ]


def test_attachments_past_the_count_limit_are_noted() -> None:
    email = parse(samples.APPLE_NESTED, MailLimits(max_attachments=1))
    assert [a.filename for a in email.attachments] == ["contrat signé.pdf"]
    assert [str(r) for r in email.refused] == ["attachment 'notes.txt': more than 1 attachments"]


def test_a_zip_bomb_is_only_its_bytes_under_the_cap() -> None:
    bomb = samples.zip_bomb(20 * 1024 * 1024)  # ~20 KiB that would inflate to 20 MiB
    raw = samples.with_attachment(bomb, "invoice.zip", "application/zip")
    email = parse(raw, MailLimits(max_attachment_bytes=1024 * 1024))
    [attachment] = email.attachments
    assert attachment.data == bomb
    assert attachment.size < 64 * KIB
    assert attachment.content_type == "application/zip"
    assert email.refused == ()


def test_a_message_over_the_size_limit_is_refused() -> None:
    with pytest.raises(MailRefused, match="message of 2001 bytes is over the limit of 2000"):
        parse(b"x" * 2001, MailLimits(max_message_bytes=2000))


def test_nested_comments_in_an_address_do_not_crash_the_reader() -> None:
    raw = message("From: " + "(" * 5000 + "x" + ")" * 5000 + " <a@example.com>")
    email = parse(raw)  # the stdlib's header parsers recurse on comments
    assert email.from_address in ("", "a@example.com")


def test_an_address_list_keeps_the_first_addresses() -> None:
    to = ", ".join(f"p{i}@example.com" for i in range(5000))
    email = parse(message(f"From: a@example.com\nTo: {to}"), MailLimits(max_addresses=10))
    assert [a.address for a in email.to] == [f"p{i}@example.com" for i in range(10)]
    assert [str(r) for r in email.refused] == ["header To: only the first 10 addresses kept"]


def test_binary_garbage_is_accepted_as_an_empty_message() -> None:
    email = parse(bytes(range(256)) * 50)
    assert email.from_address == ""
    assert email.message_id is None


def test_a_multipart_without_boundary_or_with_a_missing_end_still_reads() -> None:
    no_boundary = message("From: a@example.com\nContent-Type: multipart/mixed", b"text\r\n")
    parse(no_boundary)
    unterminated = message(
        'From: a@example.com\nContent-Type: multipart/mixed; boundary="U"',
        b"--U\r\nContent-Type: text/plain\r\n\r\ncut short",
    )
    assert parse(unterminated).body == "cut short"


def _all_text(email: InboundEmail) -> list[str]:
    texts = [email.subject, email.body, email.from_address, email.from_name]
    for address in (*email.to, *email.cc, *email.reply_to):
        texts += [address.address, address.name]
    texts += [a.filename for a in email.attachments]
    return texts


def _check(raw: bytes, limits: MailLimits) -> None:
    try:
        email = parse(raw, limits)
    except MailRefused:
        return
    for text in _all_text(email):
        text.encode("utf-8")  # storable: no lone surrogates
    assert len(email.attachments) <= limits.max_attachments
    assert len(email.body) <= limits.max_body_chars


_SMALL = MailLimits(max_parts=20, max_depth=4, max_attachment_bytes=2000, max_attachments=3,
                    max_body_chars=500, max_header_bytes=4096)  # fmt: skip
_SEEDS = [
    samples.GMAIL_ALTERNATIVE,
    samples.OUTLOOK_ARABIC,
    samples.APPLE_NESTED,
    samples.HTML_ONLY,
    samples.nested_multiparts(8),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(_SEEDS),
    cuts=st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=12)), max_size=6),
)
def test_mutated_real_messages_never_crash_and_stay_within_limits(
    seed: bytes, cuts: list[tuple[int, bytes]]
) -> None:
    raw = bytearray(seed)
    for at, junk in cuts:
        at %= len(raw)
        raw[at : at + len(junk)] = junk
    _check(bytes(raw), _SMALL)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    _check(raw, _SMALL)


def test_limits_refuse_nonsense_values() -> None:
    with pytest.raises(ValueError, match="max_parts must be a positive integer"):
        dataclasses.replace(LIMITS, max_parts=0)

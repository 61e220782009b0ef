"""Real-world messages read into an InboundEmail: bodies, attachments, charsets, headers."""

from __future__ import annotations

import base64

import pytest

from channels.email.content import safe_filename
from channels.email.limits import MailLimits
from channels.email.message import Address, InboundEmail, SmtpEnvelope, parse_email
from tests.channels.email import samples
from tests.channels.email.samples import RECEIVED_AT, message

LIMITS = MailLimits()


def parse(raw: bytes, limits: MailLimits = LIMITS, **kwargs: SmtpEnvelope) -> InboundEmail:
    return parse_email(raw, limits, RECEIVED_AT, **kwargs)


def test_a_gmail_alternative_gives_the_plain_text_and_decoded_headers() -> None:
    email = parse(samples.GMAIL_ALTERNATIVE)
    assert email.body == (
        "Bonjour,\n\nma facture de février est fausse : 42,00 € au lieu de 24,00 €.\n\nChloé"
    )
    assert not email.body_from_html
    assert email.subject == "Problème avec ma facture"
    assert (email.from_address, email.from_name) == ("chloe.martin@gmail.com", "Chloé Martin")
    assert email.to == (Address("support@hotline.test", "Support"),)
    assert email.message_id == "<CAF=abc123+XyZ@mail.gmail.com>"
    assert email.sent_at is not None
    assert email.sent_at.isoformat() == "2026-03-02T10:12:01+01:00"
    assert email.received_at == RECEIVED_AT
    assert email.attachments == ()
    assert email.refused == ()
    assert email.size == len(samples.GMAIL_ALTERNATIVE)


def test_an_outlook_reply_in_windows_1256_reads_as_arabic_with_its_thread_ids() -> None:
    email = parse(samples.OUTLOOK_ARABIC)
    assert email.body == "مرحبا، ما زلت أنتظر الاسترداد."
    assert email.subject == "رد: الفاتورة"
    assert email.from_name == "أحمد"
    assert email.in_reply_to == ("<reply-1@hotline.test>",)  # the domain's case normalised
    assert email.references == ("<first@hotline.test>", "<reply-1@hotline.test>")
    assert email.message_id == "<DB9PR01MB1234ABCD@db9pr01mb1234.eurprd01.prod.outlook.com>"


def test_nested_mixed_alternative_related_keeps_the_text_and_the_real_attachments() -> None:
    email = parse(samples.APPLE_NESTED)
    assert email.body == "Please find the contract attached."
    assert [(a.filename, a.content_type) for a in email.attachments] == [
        ("contrat signé.pdf", "application/pdf"),
        ("notes.txt", "text/plain"),
    ]
    assert email.attachments[0].data == samples.PDF
    assert email.attachments[1].data == b"meter reading 12345"  # the CRLF is the boundary's
    assert email.cc == (
        Address("marie@example.fr", "Marie"),
        Address("paul@example.fr", "Dupont, Paul"),
    )


def test_html_only_mail_becomes_text_without_scripts_or_styles() -> None:
    email = parse(samples.HTML_ONLY)
    assert email.body_from_html
    assert email.body == (
        "Order 991\nCafé crème & cookies.\nTrack it here <https://track.example.com/991>."
    )
    assert "steal" not in email.body
    assert "alert" not in email.body
    assert "color" not in email.body


def test_iso_8859_1_is_read_as_windows_1252_like_mail_clients_do() -> None:
    raw = message(
        "From: a@example.com\nContent-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: 8bit",
        "Caf\xe9 \x93quoted\x94\r\n".encode("latin-1"),
    )
    assert parse(raw).body == "Café “quoted”"


@pytest.mark.parametrize(
    ("charset", "body", "expected"),
    [
        ("x-unknown-charset", "naïve".encode(), "naïve"),  # unknown label, valid UTF-8
        ("x-unknown-charset", b"na\xefve", "naïve"),  # unknown label, legacy bytes
        ("utf-8", b"broken \xff\xfe utf-8", "broken \ufffd\ufffd utf-8"),
        ("zlib_codec", b"plain words", "plain words"),  # not a text encoding: not run
        ("unicode_escape", b"\\u0041", "\\u0041"),  # a label must not run a transform
    ],
)
def test_odd_charsets_and_broken_bytes_decode_with_replacement(
    charset: str, body: bytes, expected: str
) -> None:
    raw = message(f"From: a@example.com\nContent-Type: text/plain; charset={charset}", body)
    assert parse(raw).body.startswith(expected)


def test_broken_base64_and_quoted_printable_still_give_their_text() -> None:
    raw = message(
        "From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=Z",
        b"--Z\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"aGVsbG8gd29y!!bGQ=x\r\n"
        b"--Z\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"soft=\r\nbreak =ZZ bad escape=\r\n--Z--\r\n",
    )
    email = parse(raw)
    assert email.body == "hello world\n\nsoftbreak =ZZ bad escape"


def test_rfc_2047_headers_in_several_charsets_and_raw_utf8_headers() -> None:
    raw = message(
        "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\n"
        "To: =?utf-8?b?2LnZhNmK?= <ali@example.com>, =?x-bogus?q?Bo=E9?= <bo@example.com>\n"
        "Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\n"
        "  =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
    )
    email = parse(raw)
    assert (email.from_name, email.from_address) == ("André Pirard", "PIRARD@vm1.ulg.ac.be")
    assert email.subject == "If you can read this you understand the example."
    assert email.to[0] == Address("ali@example.com", "علي")
    assert email.to[1].address == "bo@example.com"  # the name decodes with replacement


def test_an_8bit_utf8_subject_is_read_as_utf8() -> None:
    raw = "From: a@example.com\r\nSubject: مرحبا بكم\r\n\r\nx\r\n".encode()
    assert parse(raw).subject == "مرحبا بكم"


def test_control_characters_and_folding_never_reach_header_values() -> None:
    raw = message("From: a@example.com\nSubject: line one\n\tline\x00two\x1b[31m")
    assert parse(raw).subject == "line one line two [31m"


def test_reply_to_is_where_a_reply_goes() -> None:
    raw = message("From: noreply@shop.example\nReply-To: Jo <jo@example.com>")
    email = parse(raw)
    assert email.reply_address == "jo@example.com"
    assert parse(message("From: Jo <jo@example.com>")).reply_address == "jo@example.com"


def test_a_message_without_headers_of_note_is_still_accepted_empty() -> None:
    email = parse(b"just some text with no header at all\r\n")
    assert email.from_address == ""
    assert email.message_id is None
    assert email.subject == ""
    assert email.sent_at is None


def test_an_implausible_or_broken_date_is_left_out() -> None:
    assert parse(message("Date: yesterday-ish")).sent_at is None
    assert parse(message("Date: Mon, 2 Mar 1066 10:00:00 +0000")).sent_at is None


@pytest.mark.parametrize(
    ("headers", "envelope_from"),
    [
        ("Auto-Submitted: auto-replied", "a@example.com"),
        ("Precedence: bulk", "a@example.com"),
        ("List-Id: <news.example.com>", "a@example.com"),
        ("X-Autoreply: yes", "a@example.com"),
        ("Subject: Undelivered Mail", ""),  # a bounce: the null reverse path
    ],
)
def test_automatic_mail_is_marked(headers: str, envelope_from: str) -> None:
    envelope = SmtpEnvelope("192.0.2.1", "mx.example.com", envelope_from, ("s@hotline.test",))
    raw = message(f"From: a@example.com\n{headers}")
    assert parse(raw, envelope=envelope).automatic


def test_a_persons_mail_is_not_automatic() -> None:
    assert not parse(message("From: a@example.com\nAuto-Submitted: no")).automatic


def test_a_forwarded_message_is_kept_whole_as_an_attachment() -> None:
    inner = b"From: x@example.com\r\nSubject: original\r\n\r\noriginal text\r\n"
    raw = message(
        'From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="F"',
        b"--F\r\nContent-Type: text/plain\r\n\r\nFYI\r\n"
        b"--F\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"--F--\r\n",
    )
    email = parse(raw)
    assert email.body == "FYI"
    [forwarded] = email.attachments
    assert forwarded.filename == "forwarded-message.eml"
    assert forwarded.content_type == "message/rfc822"
    assert b"original text" in forwarded.data
    assert b"Subject: original" in forwarded.data


def test_an_attachment_with_no_usable_name_is_named_for_its_type() -> None:
    raw = samples.with_attachment(b"data", "../..", "image/png")
    assert parse(raw).attachments[0].filename == "attachment-1.png"


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\evil.bat", "evil.bat"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # the right-to-left override trick
        ('a<b>c:"d"|e?*.txt', "a_b_c__d__e__.txt"),
        ("CON.txt", "_CON.txt"),
        ("  .hidden  ", "hidden"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
        ("تقرير.pdf", "تقرير.pdf"),
        ("bad\udce9name.txt", "badéname.txt"),  # a raw 8-bit byte, not UTF-8: Windows-1252
    ],
)
def test_attachment_filenames_are_made_safe(name: str, safe: str) -> None:
    assert safe_filename(name, "application/octet-stream", 1) == safe


def test_the_body_is_cut_at_its_limit_and_the_cut_is_noted() -> None:
    raw = message("From: a@example.com", b"word " * 1000)
    email = parse(raw, MailLimits(max_body_chars=100))
    assert len(email.body) == 100
    assert [str(r) for r in email.refused] == ["body: cut at 100 characters"]


def test_a_huge_html_body_is_read_only_as_far_as_the_text_limit() -> None:
    html = b"<p>" + b"<b>word</b> " * 200_000 + b"<script>x</script>"
    raw = message("From: a@example.com\nContent-Type: text/html; charset=utf-8", html)
    email = parse(raw, MailLimits(max_body_chars=1000))
    assert len(email.body) <= 1000
    assert email.body.startswith("word word")
    assert [r.what for r in email.refused] == ["body"]


def test_ids_in_threading_headers_are_canonical_and_each_once() -> None:
    raw = message(
        "Message-ID:   <Abc@Example.COM>  \n"
        "In-Reply-To: <p@X.org> (sent by someone)\n"
        "References: <r1@x.org>\n <p@x.org> garbage <r1@X.ORG> <p@x.org>",
    )
    email = parse(raw)
    assert email.message_id == "<Abc@example.com>"
    assert email.in_reply_to == ("<p@x.org>",)
    assert email.references == ("<r1@x.org>", "<p@x.org>")


def test_the_envelope_travels_with_the_message() -> None:
    envelope = SmtpEnvelope("192.0.2.7", "mx.example.com", "bounce@x.org", ("support@h.test",))
    assert parse(samples.GMAIL_ALTERNATIVE, envelope=envelope).envelope == envelope


def test_base64_of_a_text_part_without_charset_guesses_utf8() -> None:
    body = base64.b64encode("ünïcode".encode()) + b"\r\n"
    raw = message("From: a@example.com\nContent-Transfer-Encoding: base64", body)
    assert parse(raw).body == "ünïcode"

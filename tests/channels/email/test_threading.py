"""A message finds its conversation by its ids; a reply carries the ids that bring the
customer's answer back to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from channels.email.limits import MailLimits
from channels.email.message import InboundEmail, parse_email
from channels.email.message_ids import normalize_message_id, parse_message_ids
from channels.email.threading import (
    MAX_REPLY_REFERENCES,
    find_thread,
    mapping_lookup,
    new_message_id,
    reply_headers,
    thread_keys,
    validate_domain,
)
from tests.channels.email import samples
from tests.channels.email.samples import RECEIVED_AT, message


def parse(raw: bytes) -> InboundEmail:
    return parse_email(raw, MailLimits(), RECEIVED_AT)


REPLY = parse(
    message(
        "From: a@example.com\nMessage-ID: <new@example.com>\nIn-Reply-To: <ours-2@hotline.test>\n"
        "References: <root@example.com> <ours-1@hotline.test> <ours-2@hotline.test>"
    )
)


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("<Abc.Def@Example.COM>", "<Abc.Def@example.com>"),
        ("  abc@example.com ", "<abc@example.com>"),
        ("< abc@EXAMPLE.com >", "<abc@example.com>"),
        ("no-at-sign", "<no-at-sign>"),
        ("two words@example.com", None),
        ("", None),
        ("<>", None),
        ("@example.com", None),
        ("local@", None),
        ("a\r\nb@example.com", None),
        ("x" * 1000 + "@example.com", None),
    ],
)
def test_message_ids_have_one_canonical_spelling(value: str, canonical: str | None) -> None:
    assert normalize_message_id(value) == canonical


def test_ids_are_found_in_bracketed_lists_and_bare_legacy_ones() -> None:
    assert parse_message_ids("<a@x> (comment) junk <b@X>", 10) == ("<a@x>", "<b@x>")
    assert parse_message_ids("a@x b@x", 10) == ("<a@x>", "<b@x>")
    assert parse_message_ids("<a@x> <b@x> <c@x>", 2) == ("<b@x>", "<c@x>")  # the newest


def test_thread_keys_are_own_id_then_in_reply_to_then_references_newest_first() -> None:
    assert thread_keys(REPLY) == (
        "<new@example.com>",
        "<ours-2@hotline.test>",
        "<ours-1@hotline.test>",
        "<root@example.com>",
    )


async def test_a_reply_to_our_message_finds_its_conversation() -> None:
    lookup = mapping_lookup({"<ours-1@hotline.test>": 7, "<root@example.com>": 7})
    assert await find_thread(REPLY, lookup) == 7


async def test_the_most_telling_key_wins_when_ids_point_to_different_conversations() -> None:
    lookup = mapping_lookup({"<root@example.com>": 1, "<ours-2@hotline.test>": 2})
    assert await find_thread(REPLY, lookup) == 2


async def test_a_message_seen_before_is_in_the_conversation_it_was_put_in() -> None:
    lookup = mapping_lookup({"<new@example.com>": "c-9", "<ours-2@hotline.test>": "c-1"})
    assert await find_thread(REPLY, lookup) == "c-9"  # a sender's retry, not a new thread


async def test_a_message_with_unknown_ids_starts_a_new_conversation() -> None:
    assert await find_thread(REPLY, mapping_lookup({"<other@x>": 1})) is None


async def test_the_store_is_asked_once_with_every_key() -> None:
    asked: list[Sequence[str]] = []

    async def lookup(ids: Sequence[str]) -> Mapping[str, int]:
        asked.append(ids)
        return {}

    await find_thread(parse(samples.OUTLOOK_ARABIC), lookup)
    assert asked == [
        (
            "<DB9PR01MB1234ABCD@db9pr01mb1234.eurprd01.prod.outlook.com>",
            "<reply-1@hotline.test>",
            "<first@hotline.test>",
        )
    ]


async def test_a_message_without_any_id_is_new_without_asking() -> None:
    async def lookup(ids: Sequence[str]) -> Mapping[str, int]:
        raise AssertionError("not asked")

    assert await find_thread(parse(message("From: a@example.com")), lookup) is None


def test_a_reply_answers_the_newest_message_and_references_the_conversation() -> None:
    headers = reply_headers(["<first@example.com>", "<Ours-1@HOTLINE.test>", "<second@x.org>"])
    assert headers.in_reply_to == "<second@x.org>"
    assert headers.references == "<first@example.com> <Ours-1@hotline.test> <second@x.org>"
    assert headers.as_dict() == {
        "In-Reply-To": "<second@x.org>",
        "References": "<first@example.com> <Ours-1@hotline.test> <second@x.org>",
    }


def test_a_long_conversation_keeps_its_root_and_newest_references() -> None:
    ids = [f"<m{i}@x.org>" for i in range(50)]
    references = reply_headers(ids).references
    assert references is not None
    kept = references.split()
    assert len(kept) == MAX_REPLY_REFERENCES
    assert kept[0] == "<m0@x.org>"
    assert kept[1] == "<m31@x.org>"
    assert kept[-1] == "<m49@x.org>"


def test_a_first_message_has_no_threading_headers() -> None:
    assert reply_headers([]).as_dict() == {}
    assert reply_headers(["not an id", ""]).as_dict() == {}


def test_our_message_ids_are_unique_and_carry_the_configured_domain() -> None:
    ids = {new_message_id("Hotline.Example.COM", now=1_700_000_000) for _ in range(1000)}
    assert len(ids) == 1000
    for value in ids:
        assert value.endswith("@hotline.example.com>")
        assert normalize_message_id(value) == value


@pytest.mark.parametrize("domain", ["", "bad domain", "a..b", "-x.com", "x" * 64 + ".com", "é.fr"])
def test_a_domain_that_is_not_a_dns_name_is_refused(domain: str) -> None:
    with pytest.raises(ValueError, match="is not a domain name"):
        validate_domain(domain)

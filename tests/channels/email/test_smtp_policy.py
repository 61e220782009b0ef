"""Whom the server receives for, and what one peer may ask of it."""

from __future__ import annotations

import pytest

from channels.email.smtp_policy import (
    MAX_TRACKED_PEERS,
    AcceptedRecipients,
    PeerLimits,
    PeerLimitSettings,
    Recipient,
    peer_key,
)

ACCEPTED = AcceptedRecipients.parse(["support@hotline.test", "Sales@Hotline.Test", "@help.test"])


@pytest.mark.parametrize(
    ("address", "decision"),
    [
        ("support@hotline.test", Recipient.ACCEPTED),
        ("SUPPORT@HOTLINE.TEST", Recipient.ACCEPTED),
        ("sales@hotline.test", Recipient.ACCEPTED),
        ("anyone@help.test", Recipient.ACCEPTED),
        ("nobody@hotline.test", Recipient.UNKNOWN_MAILBOX),
        ("victim@elsewhere.example", Recipient.NOT_OURS),
        ("support@hotline.test.evil.example", Recipient.NOT_OURS),
        ("support%victim@hotline.test", Recipient.UNKNOWN_MAILBOX),  # the percent hack
        ("no-domain", Recipient.NOT_OURS),
        ("@help.test", Recipient.NOT_OURS),
    ],
)
def test_only_our_addresses_and_domains_are_received(address: str, decision: Recipient) -> None:
    assert ACCEPTED.decide(address) is decision


@pytest.mark.parametrize("entry", ["", "not an address", "x@y@z.test", "localhost"])
def test_a_recipient_entry_that_is_neither_address_nor_domain_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="is not an address or a domain"):
        AcceptedRecipients.parse([entry])


def test_no_recipients_at_all_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="would receive nothing"):
        AcceptedRecipients.parse([])


def test_a_peer_is_its_ipv4_address_or_its_ipv6_slash_64() -> None:
    assert peer_key("192.0.2.10") == "192.0.2.10"
    assert peer_key("::ffff:192.0.2.10") == "192.0.2.10"
    assert (
        peer_key("2001:db8:1:2:aaaa::1")
        == peer_key("2001:db8:1:2:bbbb::2")
        == ("2001:db8:1:2::/64")
    )


def test_connections_are_counted_per_peer_and_overall() -> None:
    limits = PeerLimits(PeerLimitSettings(max_connections=3, max_connections_per_peer=2))
    assert limits.admit("a") is None
    assert limits.admit("a") is None
    assert limits.admit("a") == "too many connections from your address"
    assert limits.admit("b") is None
    assert limits.admit("c") == "too many connections"
    limits.release("a")
    assert limits.admit("c") is None


def test_messages_per_peer_follow_a_token_bucket() -> None:
    now = [0.0]
    limits = PeerLimits(PeerLimitSettings(max_messages_per_peer_per_minute=3), lambda: now[0])
    assert [limits.take_message("a") for _ in range(4)] == [True, True, True, False]
    assert limits.take_message("b")  # another peer has its own bucket
    now[0] = 20.0  # a third of a minute: one message back
    assert [limits.take_message("a") for _ in range(2)] == [True, False]


def test_the_rate_memory_is_bounded() -> None:
    limits = PeerLimits(PeerLimitSettings(max_messages_per_peer_per_minute=1), lambda: 0.0)
    assert not limits.take_message("first") or not limits.take_message("first")
    for i in range(MAX_TRACKED_PEERS):
        limits.take_message(f"peer-{i}")
    assert limits.take_message("first")  # forgotten: the least recently seen went first

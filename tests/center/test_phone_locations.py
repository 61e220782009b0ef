"""Which dial string rings an agent's phone from this node's Asterisk, given where the
phones are registered (``center.phone_locations``)."""

from __future__ import annotations

from center.phone_locations import (
    LocalContacts,
    PhoneMap,
    call_system,
    dial_contacts,
    dial_string,
    endpoint_name,
    leg_prefix,
    trunk_channel_prefixes,
)
from telephony.ami_codec import AmiMessage

TRUNKS = {"asterisk-b": "peer-asterisk-b", "asterisk-c": "peer-asterisk-c"}
#: one cluster.peers for every node (configure.sh names the trunks alike on each Asterisk)
ALL_TRUNKS = {"asterisk-a": "peer-asterisk-a", **TRUNKS}


def contact_status(endpoint: str, uri: str, status: str) -> AmiMessage:
    """As Asterisk 20.20.1 sends it (observed: tests/asterisk/test_trunk.py)."""
    return AmiMessage.of(
        ("Event", "ContactStatus"),
        ("Privilege", "system,all"),
        ("SystemName", "asterisk-b"),
        ("URI", uri),
        ("ContactStatus", status),
        ("AOR", endpoint),
        ("EndpointName", endpoint),
        ("RoundtripUsec", "0"),
    )


def test_a_phone_registered_here_is_dialled_as_agents_yaml_names_it() -> None:
    phones = PhoneMap(here=frozenset({"agent1001"}), elsewhere={"asterisk-b": frozenset()})
    assert dial_string("PJSIP/agent1001", phones, TRUNKS) == "PJSIP/agent1001"


def test_a_phone_registered_on_a_peer_is_dialled_through_the_trunk_to_it() -> None:
    phones = PhoneMap(elsewhere={"asterisk-b": frozenset({"agent1001"})})
    assert dial_string("PJSIP/agent1001", phones, TRUNKS) == "PJSIP/agent1001@peer-asterisk-b"


def test_the_endpoint_keeps_its_spelling_through_the_trunk() -> None:
    phones = PhoneMap(elsewhere={"asterisk-b": frozenset({"agent1001"})})
    assert dial_string("pjsip/Agent1001", phones, TRUNKS) == "PJSIP/Agent1001@peer-asterisk-b"


def test_here_wins_over_a_peer_where_the_phone_is_registered_too() -> None:
    phones = PhoneMap(
        here=frozenset({"agent1001"}), elsewhere={"asterisk-b": frozenset({"agent1001"})}
    )
    assert dial_string("PJSIP/agent1001", phones, TRUNKS) == "PJSIP/agent1001"


def test_among_peers_the_first_by_system_name_is_dialled_on_every_node_alike() -> None:
    phones = PhoneMap(
        elsewhere={
            "asterisk-c": frozenset({"agent1001"}),
            "asterisk-b": frozenset({"agent1001"}),
        }
    )
    assert dial_string("PJSIP/agent1001", phones, TRUNKS) == "PJSIP/agent1001@peer-asterisk-b"


def test_a_peer_without_a_trunk_is_passed_over_for_one_with_a_trunk() -> None:
    phones = PhoneMap(
        elsewhere={
            "asterisk-a0": frozenset({"agent1001"}),  # no trunk to it in cluster.peers
            "asterisk-c": frozenset({"agent1001"}),
        }
    )
    assert dial_string("PJSIP/agent1001", phones, TRUNKS) == "PJSIP/agent1001@peer-asterisk-c"


def test_a_phone_registered_nowhere_known_is_dialled_here_for_asterisk_to_say() -> None:
    phones = PhoneMap(elsewhere={"asterisk-z": frozenset({"agent1001"})})  # no trunk to z
    assert dial_string("PJSIP/agent1001", phones, TRUNKS) == "PJSIP/agent1001"
    assert dial_string("PJSIP/agent1002", PhoneMap(), TRUNKS) == "PJSIP/agent1002"


def test_other_technologies_and_composite_endpoints_are_never_trunked() -> None:
    phones = PhoneMap(elsewhere={"asterisk-b": frozenset({"agent1001"})})
    for endpoint in ("SIP/agent1001", "PJSIP/agent1001@other", "PJSIP/agent1001&PJSIP/x"):
        assert dial_string(endpoint, phones, TRUNKS) == endpoint
    assert endpoint_name("Local/agent1001@ctx") is None
    assert endpoint_name("PJSIP/") is None


def test_trunked_legs_are_channels_of_the_trunk() -> None:
    assert trunk_channel_prefixes({"asterisk-b": "Peer-B"}) == {"pjsip/peer-b-"}


def test_dial_contacts_are_read_from_pjsip_dial_contacts() -> None:
    value = (
        "PJSIP/agent1001/sip:agent1001@127.0.0.1:52083"
        "&PJSIP/agent1001/sip:agent1001@10.0.0.7:5060;ob"
    )
    assert dial_contacts(value) == [
        "sip:agent1001@127.0.0.1:52083",
        "sip:agent1001@10.0.0.7:5060;ob",
    ]
    assert dial_contacts("") == []


def test_contacts_at_login_then_as_asterisk_tells_them() -> None:
    contacts = LocalContacts()
    contacts.reset({"agent1001": "PJSIP/agent1001/sip:agent1001@h:1", "agent1002": ""})
    assert contacts.endpoints() == {"agent1001"}
    # a registration: NonQualified, then Reachable once qualified (Asterisk 20.20.1)
    assert contacts.apply(contact_status("agent1002", "sip:agent1002@h:2", "NonQualified"))
    assert not contacts.apply(contact_status("agent1002", "sip:agent1002@h:2", "Reachable"))
    assert contacts.endpoints() == {"agent1001", "agent1002"}
    # qualify fails: not rung there; back: rung again
    assert contacts.apply(contact_status("agent1001", "sip:agent1001@h:1", "Unreachable"))
    assert contacts.endpoints() == {"agent1002"}
    assert contacts.apply(contact_status("agent1001", "sip:agent1001@h:1", "Reachable"))
    # unregistered (or expired)
    assert contacts.apply(contact_status("agent1002", "sip:agent1002@h:2", "Removed"))
    assert contacts.endpoints() == {"agent1001"}


def test_an_endpoint_with_two_contacts_stays_while_one_can_be_rung() -> None:
    contacts = LocalContacts()
    contacts.apply(contact_status("Agent1001", "sip:a@h:1", "Reachable"))
    contacts.apply(contact_status("Agent1001", "sip:a@h:2", "Reachable"))
    assert not contacts.apply(contact_status("Agent1001", "sip:a@h:1", "Removed"))
    assert contacts.endpoints() == {"agent1001"}
    assert contacts.apply(contact_status("Agent1001", "sip:a@h:2", "Unreachable"))
    assert contacts.endpoints() == frozenset()


def test_a_contact_status_without_endpoint_or_uri_changes_nothing() -> None:
    contacts = LocalContacts()
    assert not contacts.apply(AmiMessage.of(("Event", "ContactStatus"), ("URI", "sip:x")))
    assert contacts.endpoints() == frozenset()


# the call's own Asterisk ----------------------------------------------------------------
def test_a_calls_asterisk_is_read_from_its_uniqueid() -> None:
    assert call_system("asterisk-b-1733000000.42") == "asterisk-b"
    assert call_system("pbx-1733000000.7-t2") == "pbx"  # a transfer's segment
    assert call_system("1733000000.42") is None  # no systemname
    assert call_system("asterisk-b") is None
    assert call_system("") is None


def test_phones_are_seen_from_the_calls_asterisk() -> None:
    """A standby node following asterisk-a's AMI serves a call on asterisk-b."""
    phones = PhoneMap(
        frozenset({"agent1001"}),
        {"asterisk-b": frozenset({"agent1002"}), "asterisk-c": frozenset({"agent1003"})},
        "asterisk-a",
    )
    on_b = "asterisk-b"
    assert dial_string("PJSIP/agent1002", phones, ALL_TRUNKS, on_b) == "PJSIP/agent1002"
    assert (
        dial_string("PJSIP/agent1001", phones, ALL_TRUNKS, on_b)
        == "PJSIP/agent1001@peer-asterisk-a"
    )
    assert (
        dial_string("PJSIP/agent1003", phones, ALL_TRUNKS, on_b)
        == "PJSIP/agent1003@peer-asterisk-c"
    )
    # this node's own Asterisk, or one not known: as before
    for here in ("asterisk-a", None):
        assert dial_string("PJSIP/agent1001", phones, ALL_TRUNKS, here) == "PJSIP/agent1001"
        assert (
            dial_string("PJSIP/agent1002", phones, ALL_TRUNKS, here)
            == "PJSIP/agent1002@peer-asterisk-b"
        )


def test_a_call_on_an_asterisk_nobody_registered_on_reaches_every_phone_by_trunk() -> None:
    phones = PhoneMap(
        frozenset({"agent1001"}), {"asterisk-b": frozenset({"agent1002"})}, "asterisk-a"
    )
    seen = phones.seen_from("asterisk-c")
    assert seen.here == frozenset()
    assert seen.systems_of("agent1001") == ["asterisk-a"]
    assert seen.systems_of("agent1002") == ["asterisk-b"]
    # with no trunk to this node's own Asterisk listed, Asterisk says (CHANUNAVAIL)
    assert dial_string("PJSIP/agent1001", phones, TRUNKS, "asterisk-c") == "PJSIP/agent1001"


def test_a_dial_strings_leg_is_the_phones_or_the_trunks() -> None:
    assert leg_prefix("PJSIP/agent1002") == "PJSIP/agent1002-"
    assert leg_prefix("PJSIP/agent1002@peer-asterisk-b") == "PJSIP/peer-asterisk-b-"

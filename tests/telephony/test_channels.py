"""The live channel table, fed with the events a real Asterisk sent."""

from __future__ import annotations

from telephony.ami_codec import AmiDecoder, AmiMessage
from telephony.channels import ChannelTable
from tests import transcripts as tr


def events(name: str) -> list[AmiMessage]:
    decoder = AmiDecoder()
    return [m for m in decoder.feed(tr.stream(name, tr.ASTERISK_TO_SERVICE)) if m.event]


def test_a_recorded_call_flow_opens_two_channels_and_ends_with_none() -> None:
    table = ChannelTable()
    peak = 0
    for message in events("ami_call_flow"):
        table.apply(message)
        peak = max(peak, len(table))
    assert peak == 2  # the caller and the agent it dialled
    assert len(table) == 0


def test_channel_state_follows_newstate() -> None:
    table = ChannelTable()
    states: list[object] = []
    for message in events("ami_call_flow"):
        table.apply(message)
        caller = table.by_name("SIP/caller-00000027")
        if caller is not None and (not states or states[-1] != caller.state_desc):
            states.append(caller.state_desc)
    assert states[:3] == ["Down", "Ring", "Up"]


def test_rebuild_names_the_channels_that_appeared_and_vanished() -> None:
    table = ChannelTable()
    gone = AmiMessage.of(("Event", "Newchannel"), ("Channel", "SIP/a-1"), ("Uniqueid", "1.1"))
    table.apply(gone)
    snapshot = [
        AmiMessage.of(("Event", "CoreShowChannel"), ("Channel", "SIP/b-2"), ("Uniqueid", "1.2"))
    ]
    resync = table.replace(snapshot)
    assert [c.uniqueid for c in resync.vanished] == ["1.1"]
    assert [c.uniqueid for c in resync.appeared] == ["1.2"]
    assert "1.2" in table
    assert "1.1" not in table


def test_hangup_of_an_unknown_channel_is_ignored() -> None:
    table = ChannelTable()
    table.apply(AmiMessage.of(("Event", "Hangup"), ("Uniqueid", "9.9")))
    table.apply(AmiMessage.of(("Event", "Hangup")))
    assert len(table) == 0

"""The AMI events hotline consumes, and the manager.conf `eventfilter=` lines that let only
those through.

Asterisk sends every event of every channel to every AMI user whose `read=` classes cover it
(class call alone: NewCallerid, DialState, bridges, music on hold, hang-up requests...), while
hotline acts on a handful. A whitelist in docker/asterisk/manager.conf makes Asterisk drop the
rest before they reach the socket; the emulator applies the same lines in the test, demo and
bench rigs.
tests/deploy checks that the file and `EVENT_FILTERS` agree, and that `CONSUMED_EVENTS`
covers every event the service subscribes to. Responses to actions and EventList items
(CoreShowChannel...) are never filtered, so they are not listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from telephony.ami_codec import (
    EVENT_CHANNEL_TALKING_START,
    EVENT_CHANNEL_TALKING_STOP,
    EVENT_CONTACT_STATUS,
    EVENT_DEVICE_STATE_CHANGE,
    EVENT_DIAL_BEGIN,
    EVENT_DIAL_END,
    EVENT_HOLD,
    EVENT_ORIGINATE_RESPONSE,
    EVENT_SHUTDOWN,
    EVENT_UNHOLD,
)
from telephony.channels import TRACKED_EVENTS

CONSUMED_EVENTS: Final[tuple[str, ...]] = (
    *TRACKED_EVENTS,  # telephony.channels: Newchannel, Newstate, Hangup
    EVENT_DIAL_BEGIN,  # center.agent_feed: an agent's phone is rung...
    EVENT_DIAL_END,  # ...and answers or not (also center.callback_legs)
    EVENT_DEVICE_STATE_CHANGE,  # center.agent_feed: phones registering, busy, gone
    EVENT_ORIGINATE_RESPONSE,  # center.callback_legs: a callback's agent leg
    EVENT_HOLD,  # center.call_controller: an agent's phone holds the caller...
    EVENT_UNHOLD,  # ...and takes them back
    EVENT_SHUTDOWN,  # telephony.ami_client: drop the link and reconnect
    EVENT_CONTACT_STATUS,  # center.phone_registry: agents' phones registered here
    EVENT_CHANNEL_TALKING_START,  # telephony.talk_detection: a caller talks over a prompt...
    EVENT_CHANNEL_TALKING_STOP,  # ...and has stopped: the end of an answer (speech.endpoint)
)


def event_filter(event: str) -> str:
    """The `eventfilter=` regex for exactly `event`: Asterisk runs it unanchored on the whole
    event text, so it is anchored at `Event: ` and ended by the line break, or `Hangup`
    would also let `HangupRequest` through (`[[:space:]]`: POSIX has no `\\r`)."""
    return f"^Event: {event}[[:space:]]"


def event_filters(events: Iterable[str] = CONSUMED_EVENTS) -> tuple[str, ...]:
    return tuple(event_filter(event) for event in events)


#: The hotline AMI user's `eventfilter=` lines, in docker/asterisk/manager.conf and the rigs.
EVENT_FILTERS: Final = event_filters()

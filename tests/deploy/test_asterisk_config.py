"""docker/ agrees with config/: one place for names, no drift.

Docker cannot run here, so the Asterisk configs the compose file mounts are read and held
against what the service is configured to use and what its code sends: the AGI URL and
script, the fallback context, the agents' endpoints, the AMI user and its permissions, the
shared prompt and recording directories.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from center.callback_legs import CallbackLegs
from hotline.ami_events import CONSUMED_EVENTS, EVENT_FILTERS
from hotline.app import HOTLINE_SCRIPT, Hotline
from hotline.config import Config, load_config
from ivr.flow.nodes import VoicemailStep
from telephony import ami_codec as ami
from telephony.agi_server import ENDED_BEFORE_SERVICE
from telephony.ami_client import AmiClient
from telephony.emulator import AsteriskEmulator
from telephony.emulator.ami_filter import EventFilter
from telephony.emulator.contexts import HOTLINE

from .asterisk_conf import Section, dialplan, named, read_conf

ROOT = Path(__file__).resolve().parents[2]
ASTERISK = ROOT / "docker" / "asterisk"
#: The channel variable hotline sets to 1 before ending a session on purpose
#: (telephony.agi_server.DONE_VARIABLE).
DONE = "HOTLINE_DONE"

#: What hotline sends over AMI, and the class Asterisk 20 requires for each
#: (``manager.c``/the modules' ``ast_manager_register_xml`` privileges; an empty set: none).
ACTIONS_SENT: dict[str, frozenset[str]] = {
    ami.ACTION_LOGIN: frozenset(),
    ami.ACTION_LOGOFF: frozenset(),
    ami.ACTION_PING: frozenset(),
    ami.ACTION_CORE_SHOW_CHANNELS: frozenset({"system", "reporting"}),  # any one of them
    ami.ACTION_ORIGINATE: frozenset({"originate"}),  # callbacks, supervisor's spy calls
    # agents' call control (telephony.call_actions): hang up and transfer, MUTEAUDIO(in)
    ami.ACTION_HANGUP: frozenset({"system", "call"}),
    ami.ACTION_SETVAR: frozenset({"call"}),
    # pausing a call's recording (telephony.recording_actions): app_mixmonitor registers
    # MixMonitorMute with system|call, and manager.c lets either through
    ami.ACTION_MIXMONITOR_MUTE: frozenset({"system", "call"}),
    # consulting a colleague (center.consult): manager.c registers Atxfer and CancelAtxfer,
    # app_senddtmf PlayDTMF, with class call
    ami.ACTION_ATXFER: frozenset({"call"}),
    ami.ACTION_CANCEL_ATXFER: frozenset({"call"}),
    ami.ACTION_PLAY_DTMF: frozenset({"call"}),
    # where agents' phones are registered (center.phone_registry): this Asterisk's name and
    # each agent's PJSIP_DIAL_CONTACTS (PJSIPShowContacts would need write=system)
    ami.ACTION_CORE_SETTINGS: frozenset({"system", "reporting"}),
    ami.ACTION_GETVAR: frozenset({"call", "reporting"}),
}
#: The events hotline consumes (hotline.ami_events), and the class Asterisk sends each under.
EVENTS_READ: dict[str, str] = {
    ami.EVENT_NEWCHANNEL: "call",
    ami.EVENT_NEWSTATE: "call",
    ami.EVENT_HANGUP: "call",
    ami.EVENT_DIAL_BEGIN: "call",
    ami.EVENT_DIAL_END: "call",
    ami.EVENT_DEVICE_STATE_CHANGE: "call",
    ami.EVENT_ORIGINATE_RESPONSE: "call",
    ami.EVENT_HOLD: "call",
    ami.EVENT_UNHOLD: "call",
    ami.EVENT_SHUTDOWN: "system",
    ami.EVENT_CONTACT_STATUS: "system",  # res_pjsip: a phone's contact came, went, qualified
    # func_talkdetect: a caller talks, and stopped (Privilege: call,all on Asterisk 20.20.1,
    # tests/asterisk/test_talk_end.py)
    ami.EVENT_CHANNEL_TALKING_START: "call",
    ami.EVENT_CHANNEL_TALKING_STOP: "call",
}
#: Every event name the codec knows: the filters must pass the consumed ones and no other.
KNOWN_EVENTS = {v for k, v in vars(ami).items() if k.startswith("EVENT_") and isinstance(v, str)}


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(ROOT / "config", environ={})


@pytest.fixture(scope="module")
def extensions() -> dict[str, Section]:
    return {s.name: s for s in read_conf(ASTERISK / "extensions.conf")}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker" / "docker-compose.yml").read_text())
    return document


def agent_endpoints(config: Config) -> set[str]:
    return {a.endpoint for a in config.agents.agents if a.endpoint}


def test_the_hotline_context_answers_and_runs_the_services_agi_script(
    config: Config, extensions: dict[str, Section], compose: dict[str, Any]
) -> None:
    steps = dialplan(extensions["hotline"])
    apps = [s.app for s in steps if s.exten == "100"]
    assert apps.index("Answer") < apps.index("AGI")
    (agi,) = [s for s in steps if s.app == "AGI" and s.exten == "100"]
    assert agi.args == "${HOTLINE_AGI}"  # the URL is written in one place: [globals]
    (globals_,) = named(read_conf(ASTERISK / "extensions.conf"), "globals")
    url = urlsplit(globals_.get("HOTLINE_AGI"))
    assert url.scheme == "agi"
    assert url.hostname in compose["services"]  # the compose service name resolves
    assert url.port == config.fastagi.port
    assert url.path.lstrip("/") == HOTLINE_SCRIPT


def test_a_session_hotline_did_not_finish_goes_to_the_fallback_context_hotline_also_uses(
    config: Config, extensions: dict[str, Section]
) -> None:
    """hotline sets HOTLINE_DONE=1 before it ends a session on purpose
    (telephony/agi_server.py); a crash or a kill closes the socket without it, and Asterisk
    still says AGISTATUS=SUCCESS, so only the variable tells the two apart."""
    fallback = config.fallback
    target = f"{fallback.context},{fallback.extension},{fallback.priority}"
    steps = dialplan(extensions["hotline"])
    agi_at = next(s.priority for s in steps if s.app == "AGI" and s.exten == "100")
    (reset,) = [s for s in steps if s.app == "Set" and s.args.startswith(f"{DONE}=")]
    assert reset.priority < agi_at
    assert reset.args != f"{DONE}=1"  # never left over from an earlier run
    (check,) = [s for s in steps if s.app == "GotoIf" and s.priority > agi_at]
    assert check.args == f'$["${{{DONE}}}" != "1"]?{target}'
    assert "AGISTATUS" not in " ".join(s.args for s in steps if s.exten == "100")
    fallback_steps = dialplan(extensions[fallback.context])
    first = [s for s in fallback_steps if s.exten == fallback.extension]
    assert first[0].priority == fallback.priority
    assert "Queue" in [s.app for s in first]


def test_a_caller_gone_before_the_agi_is_told_to_hotline_by_the_h_extension(
    extensions: dict[str, Section],
) -> None:
    """AGI() sets AGISTATUS whenever it ran: unset in ``h``, hotline never had the call, and
    a session on the hung-up channel records it (center/before_service.py)."""
    hangup = [s for s in dialplan(extensions["hotline"]) if s.exten == "h"]
    apps = [(s.app, s.args) for s in hangup]
    skip = apps.index(("GotoIf", '$["${AGISTATUS}" != ""]?served'))
    assert apps[skip + 1] == ("AGI", f"${{HOTLINE_AGI}},{ENDED_BEFORE_SERVICE}")
    assert hangup[skip + 2].label == "served"


def test_calls_from_the_trunk_reach_the_hotline(extensions: dict[str, Section]) -> None:
    for step in dialplan(extensions["from-trunk"]):
        assert (step.app, step.args) == ("Goto", "hotline,100,1")


def test_the_fallback_queue_rings_exactly_the_agents_of_agents_yaml(
    config: Config, extensions: dict[str, Section]
) -> None:
    fallback_steps = dialplan(extensions[config.fallback.context])
    (queue_step,) = [s for s in fallback_steps if s.app == "Queue"]
    queue_name = queue_step.args.split(",")[0]
    (queue,) = named(read_conf(ASTERISK / "queues.conf"), queue_name)
    members = {m.split(",")[0] for m in queue.all("member")}
    assert members == agent_endpoints(config)


def test_every_agent_has_a_pjsip_endpoint_auth_and_aor_and_no_other_agent_exists(
    config: Config,
) -> None:
    sections = read_conf(ASTERISK / "pjsip.conf")
    for endpoint in agent_endpoints(config):
        tech, _, name = endpoint.partition("/")
        assert tech == "PJSIP"
        kinds = {s.get("type") for s in named(sections, name)}
        assert kinds == {"endpoint", "auth", "aor"}, endpoint
    agents = {
        f"PJSIP/{s.name}"
        for s in sections
        if not s.template and s.get("type") == "endpoint" and s.get("context") == "agents"
    }
    assert agents == agent_endpoints(config)


def test_agents_phones_land_in_a_context_that_exists(extensions: dict[str, Section]) -> None:
    contexts = {
        s.get("context") for s in read_conf(ASTERISK / "pjsip.conf") if s.get("type") == "endpoint"
    }
    assert contexts <= set(extensions)


def test_the_ami_user_may_do_what_hotline_sends_and_nothing_more(config: Config) -> None:
    manager = read_conf(ASTERISK / "manager.conf")
    (general,) = named(manager, "general")
    assert int(general.get("port") or 0) == config.ami.port
    (user,) = named(manager, config.ami.username)
    read = set((user.get("read") or "").split(","))
    write = set((user.get("write") or "").split(","))
    assert "all" not in read | write
    for action, classes in ACTIONS_SENT.items():
        assert not classes or classes & write, f"{action} needs write={'|'.join(classes)}"
    assert set(EVENTS_READ) == set(CONSUMED_EVENTS)
    assert read == set(EVENTS_READ.values())  # every class needed, and no other
    assert write == {"call", "reporting", "originate"}  # not system (MuteAudio's class)
    assert user.all("deny") == ["0.0.0.0/0.0.0.0"]  # then only the permitted networks


def test_the_ami_user_is_sent_exactly_the_events_hotline_consumes(config: Config) -> None:
    (user,) = named(read_conf(ASTERISK / "manager.conf"), config.ami.username)
    filters = user.all("eventfilter")
    assert filters == list(EVENT_FILTERS)  # the file says what the code says, in its order
    asterisk = EventFilter(filters)  # applied as manager.c does, on the whole event text
    for name in KNOWN_EVENTS:
        text = ami.encode_message([(ami.HEADER_EVENT, name), (ami.HEADER_PRIVILEGE, "call,all")])
        assert asterisk.allows(text.decode()) == (name in CONSUMED_EVENTS), name


def test_the_consumed_events_are_the_ones_the_service_subscribes_to(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscription the list lacks would be filtered away by Asterisk (and by the rigs):
    the service would wait forever for an event that never comes."""
    subscribed: set[str] = set()
    on_event = AmiClient.on_event

    def recording(client: AmiClient, name: str, callback: Any) -> Any:
        subscribed.add(name.lower())
        return on_event(client, name, callback)

    monkeypatch.setattr(AmiClient, "on_event", recording)
    service = Hotline(config)  # telephony.channels and center.agent_feed subscribe here
    CallbackLegs().attach(service.ami)  # the callback dialler attaches its legs at start
    handled_by_the_client = {ami.EVENT_SHUTDOWN.lower()}  # ami_client drops the link itself
    assert subscribed | handled_by_the_client == {e.lower() for e in CONSUMED_EVENTS}


def test_compose_shares_prompts_and_recordings_where_config_says(
    config: Config, compose: dict[str, Any]
) -> None:
    services = compose["services"]
    asterisk, hotline = mounts(services["asterisk"]), mounts(services["hotline"])
    assert ("../prompts", config.ivr.prompts.asterisk_dir) in asterisk
    (setting,) = [c for c in services["hotline"]["command"] if "recordings_dir=" in c]
    directory = setting.split("=", 1)[1]
    assert ("recordings", directory) in asterisk  # Asterisk records the speech turns...
    assert ("recordings", directory) in hotline  # ...hotline reads them at the same path


def test_compose_shares_the_voicemail_directories_with_hotline(
    config: Config, compose: dict[str, Any]
) -> None:
    services = compose["services"]
    asterisk, hotline = mounts(services["asterisk"]), mounts(services["hotline"])
    steps = [s.directory for s in config.ivr.nodes.values() if isinstance(s, VoicemailStep)]
    assert steps  # the shipped flow has a voicemail step
    for directory in {config.waiting.voicemail_dir, *steps}:
        shared = {source for source, target in asterisk if target == directory}
        assert shared, f"Asterisk does not record into {directory}"
        # hotline reads each voicemail at the same path, to keep it in the history
        assert {(source, directory) for source in shared} & hotline


def test_compose_wires_hotline_to_asterisk_and_the_ami_user(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = services["hotline"]["environment"]
    (user,) = named(read_conf(ASTERISK / "manager.conf"), env["HOTLINE_AMI_USERNAME"])
    assert env["HOTLINE_AMI_HOST"] == "asterisk"
    asterisk_ip = services["asterisk"]["networks"]["hotline"]["ipv4_address"]
    assert asterisk_ip in env["HOTLINE_FASTAGI_ALLOWED_HOSTS"].split(",")
    assert env["HOTLINE_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert user.get("secret")  # replaced from HOTLINE_AMI_SECRET by the entrypoint


def mounts(service: dict[str, Any]) -> set[tuple[str, str]]:
    """``source:target[:mode]`` volumes as (source, target)."""
    return {tuple(v.split(":")[:2]) for v in service["volumes"]}


def test_the_emulator_plays_the_same_dialplan_names_as_the_deployment(
    config: Config, extensions: dict[str, Section]
) -> None:
    """The tests' fake Asterisk and the real one must not drift apart either."""
    defaults = inspect.signature(AsteriskEmulator).parameters
    fallback = defaults["fallback_context"].default
    assert fallback == config.fallback.context
    assert fallback in extensions
    (queue_step,) = [s for s in dialplan(extensions[fallback]) if s.app == "Queue"]
    assert queue_step.args.split(",")[0] == defaults["queue_name"].default
    assert HOTLINE in extensions

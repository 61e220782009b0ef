"""AmiClient against a tiny scripted AMI server that answers with recorded Asterisk replies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from telephony import ami_client
from telephony.ami_client import (
    AmiActionError,
    AmiActionTimeout,
    AmiClient,
    AmiList,
    AmiNotConnected,
    reconnect_delay,
)
from telephony.ami_codec import AmiDecoder, AmiMessage, encode_banner
from tests.transcripts import ASTERISK_TO_SERVICE, load

USER = "hotline"
SECRET = "s3cret-Value-42"
Reply = Callable[[AmiMessage], list[bytes]]


def recorded(name: str, action_id: str) -> Reply:
    """Asterisk's recorded answer to `action_id` in transcript `name`, re-addressed to the
    ActionID of the action actually received (it sits anywhere in the message)."""
    tag = f"ActionID: {action_id}\r\n"
    records = [r.data for r in load(name) if r.dir == ASTERISK_TO_SERVICE and tag in r.data]
    assert records, (name, action_id)

    def reply(action: AmiMessage) -> list[bytes]:
        new = f"ActionID: {action.action_id}\r\n"
        return [data.replace(tag, new).encode() for data in records]

    return reply


def recorded_event(name: str, event: str) -> bytes:
    head = f"Event: {event}\r\n"
    return next(r.data for r in load(name) if r.data.startswith(head)).encode()


class ScriptedAmi:
    """Banner, Login/Ping/Logoff as recorded, other actions from `replies`; nothing else."""

    def __init__(self) -> None:
        self.secret = SECRET
        self.answer_pings = True
        self.replies: dict[str, Reply] = {}
        self.received: list[AmiMessage] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.drop()

    def drop(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    def push(self, data: bytes) -> None:
        for writer in self.writers:
            writer.write(data)

    def actions(self, name: str) -> list[AmiMessage]:
        return [m for m in self.received if (m.action or "").lower() == name.lower()]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(encode_banner())
        decoder = AmiDecoder(expect_banner=False)
        try:
            while data := await reader.read(65536):
                for message in decoder.feed(data):
                    self.received.append(message)
                    if not await self._answer(message, writer):
                        return
        except ConnectionError:
            pass
        finally:
            writer.transport.abort()

    async def _answer(self, action: AmiMessage, writer: asyncio.StreamWriter) -> bool:
        name = (action.action or "").lower()
        if name == "login":
            if action.get("Username") != USER or action.get("Secret") != self.secret:
                await asyncio.sleep(0.05)  # Asterisk waits ~1 s, then answers and closes
                writer.writelines(recorded("ami_login_failure", "login-bad-secret")(action))
                return False
            writer.writelines(recorded("ami_login_ping_logoff", "login-1")(action))
            if action.get("Events") == "on":
                writer.write(recorded_event("ami_login_ping_logoff", "FullyBooted"))
        elif name == "ping":
            if self.answer_pings:
                writer.writelines(recorded("ami_login_ping_logoff", "ping-1")(action))
        elif name == "logoff":
            writer.writelines(recorded("ami_login_ping_logoff", "logoff-1")(action))
            await writer.drain()
            return False
        elif name in self.replies:
            writer.writelines(self.replies[name](action))
        return True


@pytest.fixture
async def ami() -> AsyncIterator[ScriptedAmi]:
    server = ScriptedAmi()
    await server.start()
    yield server
    await server.stop_listening()


def make_client(ami: ScriptedAmi, **kwargs: object) -> AmiClient:
    options: dict[str, object] = {
        "reconnect_min_s": 0.02,
        "reconnect_max_s": 0.1,
        "action_timeout_s": 1.0,
    }
    options.update(kwargs)
    return AmiClient(host="127.0.0.1", port=ami.port, username=USER, secret=SECRET, **options)  # type: ignore[arg-type]


@pytest.fixture
async def client(ami: ScriptedAmi) -> AsyncIterator[AmiClient]:
    client = make_client(ami)
    await client.start()
    async with asyncio.timeout(5):
        await client.wait_connected()
    yield client
    await client.close()


async def eventually(condition: Callable[[], bool], timeout_s: float = 3.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 -- polls state the test does not own
            await asyncio.sleep(0.005)


# -- login and simple actions ----------------------------------------------------------------


async def test_login_sends_credentials_with_events_on_and_ping_answers_pong(
    ami: ScriptedAmi, client: AmiClient
) -> None:
    (login,) = ami.actions("Login")
    assert (login["Username"], login["Secret"], login["Events"]) == (USER, SECRET, "on")
    async with asyncio.timeout(5):
        pong = await client.action("Ping")
    assert pong["Ping"] == "Pong"
    assert client.connected


async def test_login_with_events_off_asks_for_no_events(ami: ScriptedAmi) -> None:
    client = make_client(ami, events=False)
    await client.start()
    async with asyncio.timeout(5):
        await client.wait_connected()
    await client.close()
    assert ami.actions("Login")[0]["Events"] == "off"


async def test_every_action_carries_a_unique_hotline_action_id(
    ami: ScriptedAmi, client: AmiClient
) -> None:
    async with asyncio.timeout(5):
        await asyncio.gather(*(client.action("Ping") for _ in range(5)))
    ids = [m.action_id or "" for m in ami.received]
    assert len(set(ids)) == len(ids) == 6
    assert all(i.startswith("hotline-") for i in ids)


async def test_error_response_raises_action_error_with_asterisks_reason(
    ami: ScriptedAmi, client: AmiClient
) -> None:
    ami.replies["getvar"] = recorded("ami_actions_idle", "getvar-16")
    with pytest.raises(AmiActionError, match="No such channel") as caught:
        async with asyncio.timeout(5):
            await client.action("Getvar", Variable="LAB_X", Channel="SIP/nosuch-00000000")
    assert caught.value.response.message == "No such channel"
    assert await client.action("Ping")  # the session is fine


async def test_repeated_fields_are_sent_as_repeated_headers(
    ami: ScriptedAmi, client: AmiClient
) -> None:
    ami.replies["originate"] = recorded("ami_originate", "orig-async-answered")
    async with asyncio.timeout(5):
        queued = await client.action(
            "Originate", Channel="SIP/agent1001", Variable=["A=1", "B=2"], Async="true"
        )
    assert queued.message == "Originate successfully queued"
    assert ami.actions("Originate")[0].get_all("Variable") == ("A=1", "B=2")


async def test_a_value_with_a_line_break_is_refused_before_sending(
    ami: ScriptedAmi, client: AmiClient
) -> None:
    with pytest.raises(ValueError, match="line break"):
        await client.action("Setvar", Variable="X", Value="1\r\nAction: Hangup")
    assert ami.actions("Setvar") == []
    assert ami.actions("Hangup") == []


async def test_unanswered_action_times_out_without_dropping_the_session(
    ami: ScriptedAmi, client: AmiClient
) -> None:
    with pytest.raises(AmiActionTimeout):
        await client.action("CoreStatus", timeout_s=0.05)
    assert client.connected
    async with asyncio.timeout(5):
        assert (await client.action("Ping"))["Ping"] == "Pong"


# -- event lists -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "transcript", "recorded_id", "items"),
    [
        ("CoreShowChannels", "ami_actions_with_call", "coreshowchannels-1", ["CoreShowChannel"]),
        ("CoreShowChannels", "ami_actions_idle", "coreshowchannels-6", []),
        ("Status", "ami_actions_with_call", "status-2", ["Status"]),  # ActionID on the LAST line
        (
            "QueueStatus",
            "ami_queue_actions",
            "queuestatus-2",
            ["QueueParams", "QueueMember", "QueueMember", "QueueMember"],
        ),
        ("QueueSummary", "ami_queue_actions", "queuesummary-1", ["QueueSummary"]),
        ("DeviceStateList", "ami_actions_idle", "devicestatelist-11", ["DeviceStateChange"] * 10),
    ],
)
async def test_list_action_collects_items_up_to_complete(
    ami: ScriptedAmi,
    client: AmiClient,
    action: str,
    transcript: str,
    recorded_id: str,
    items: list[str],
) -> None:
    ami.replies[action.lower()] = recorded(transcript, recorded_id)
    seen: list[AmiMessage] = []
    client.on_event("*", seen.append)
    async with asyncio.timeout(5):
        result = await client.list_action(action)
    assert isinstance(result, AmiList)
    assert result.response.starts_list
    assert [e.event for e in result.events] == items
    assert result.complete.completes_list
    assert result.complete["ListItems"] == str(len(items))
    assert seen == []  # list items belong to the caller, not to event subscribers


async def test_list_action_error_raises_action_error(ami: ScriptedAmi, client: AmiClient) -> None:
    ami.replies["status"] = recorded("ami_actions_idle", "status-22")
    with pytest.raises(AmiActionError, match="No such channel"):
        async with asyncio.timeout(5):
            await client.list_action("Status", Channel="SIP/nosuch-00000000")


async def test_stray_crlf_after_an_error_does_not_disturb_the_session(
    ami: ScriptedAmi, client: AmiClient
) -> None:
    reply = recorded("ami_actions_idle", "sipshowpeer-10")
    ami.replies["sipshowpeer"] = lambda action: [*reply(action), b"\r\n"]  # as chan_sip sends
    with pytest.raises(AmiActionError, match="not found"):
        async with asyncio.timeout(5):
            await client.action("SIPshowpeer", Peer="nosuchpeer")
    async with asyncio.timeout(5):
        assert (await client.action("Ping"))["Ping"] == "Pong"


# -- events ----------------------------------------------------------------------------------


async def test_events_reach_subscribers_by_name_and_star_until_unsubscribed(
    ami: ScriptedAmi, client: AmiClient
) -> None:
    hangups: list[AmiMessage] = []
    everything: list[AmiMessage] = []
    unsubscribe = client.on_event("Hangup", hangups.append)
    client.on_event("*", everything.append)
    flow = [
        r.data.encode()
        for r in load("ami_call_flow")
        if r.dir == ASTERISK_TO_SERVICE and r.data.startswith("Event: ")
    ]
    ami.push(b"".join(flow))
    await eventually(lambda: len(everything) == len(flow))
    assert len(hangups) == 2
    assert all(e.event == "Hangup" for e in hangups)
    unsubscribe()
    ami.push(recorded_event("ami_call_flow", "Hangup"))
    await eventually(lambda: len(everything) == len(flow) + 1)
    assert len(hangups) == 2


async def test_a_raising_callback_is_logged_once_and_the_reader_keeps_going(
    ami: ScriptedAmi, client: AmiClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: AmiMessage) -> None:
        raise RuntimeError("subscriber bug")

    got: list[AmiMessage] = []
    client.on_event("Newchannel", broken)
    client.on_event("Newchannel", got.append)
    event = recorded_event("ami_call_flow", "Newchannel")
    ami.push(event * 3)
    await eventually(lambda: len(got) == 3)
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
    assert "subscriber bug" in caplog.text
    async with asyncio.timeout(5):
        assert (await client.action("Ping"))["Ping"] == "Pong"


# -- failures and reconnects -----------------------------------------------------------------


async def test_refused_login_is_reported_clearly_and_retried_without_leaking_the_secret(
    ami: ScriptedAmi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="telephony")
    ami.secret = "something else"
    client = make_client(ami)
    await client.start()
    try:
        await eventually(lambda: len(ami.actions("Login")) >= 3)
        assert not client.connected
        assert client.last_error == "Authentication failed"
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert warnings == [
            f"AMI login refused for user {USER} at 127.0.0.1:{ami.port}: "
            f"Authentication failed, retrying in {warnings[0].rsplit(' ', 1)[1]}"
        ]
        with pytest.raises(AmiNotConnected):
            await client.action("Ping")
        ami.secret = SECRET  # fixed on the Asterisk side: the client gets in by itself
        async with asyncio.timeout(5):
            await client.wait_connected()
    finally:
        await client.close()
    assert SECRET not in caplog.text


async def test_drop_reconnects_and_signals_a_reconnection_for_resync(ami: ScriptedAmi) -> None:
    client = make_client(ami)
    signals: list[bool] = []
    resynced = asyncio.Event()

    async def resync(reconnected: bool) -> None:
        signals.append(reconnected)
        if reconnected:
            await client.action("Ping")  # the session is usable from inside the callback
            resynced.set()

    client.on_connected(resync)
    await client.start()
    try:
        async with asyncio.timeout(5):
            await client.wait_connected()
            await eventually(lambda: signals == [False])
            ami.drop()
            await resynced.wait()
            assert signals == [False, True]
            assert (await client.action("Ping"))["Ping"] == "Pong"
    finally:
        await client.close()


async def test_pending_action_fails_with_not_connected_when_the_connection_drops(
    ami: ScriptedAmi, client: AmiClient
) -> None:
    async def drop_soon() -> None:
        await eventually(lambda: bool(ami.actions("CoreStatus")))
        ami.drop()

    async with asyncio.timeout(10):  # a hang guard only
        dropper = asyncio.create_task(drop_soon())
        # Failed by the drop, not timed out (AmiActionTimeout is not AmiNotConnected).
        with pytest.raises(AmiNotConnected, match="lost"):
            await client.action("CoreStatus", timeout_s=60)
        await dropper


async def test_actions_while_asterisk_is_down_fail_fast_and_the_outage_is_logged_once(
    ami: ScriptedAmi, client: AmiClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="telephony.ami_client")
    port = ami.port
    await ami.stop_listening()
    await eventually(lambda: not client.connected)
    # Fails at once rather than waiting for a reconnect: the guard is far below the action's
    # own 60 s, and nothing answers until the test ends.
    async with asyncio.timeout(10):
        with pytest.raises(AmiNotConnected):
            await client.action("Ping", timeout_s=60)

    def attempts() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "unreachable" in r.getMessage()]

    await eventually(lambda: len(attempts()) >= 3, timeout_s=10)  # several failed reconnects
    warned = [r for r in attempts() if r.levelno >= logging.WARNING]
    assert len(warned) == 1
    assert f"AMI at 127.0.0.1:{port} unreachable" in warned[0].getMessage()
    assert "retrying in" in warned[0].getMessage()
    await ami.start()  # Asterisk is back on the same port
    async with asyncio.timeout(5):
        await client.wait_connected()
        assert (await client.action("Ping"))["Ping"] == "Pong"


async def test_shutdown_event_disconnects_at_once_then_reconnects_after_eof(
    ami: ScriptedAmi, client: AmiClient
) -> None:
    signals: list[bool] = []
    shutdowns: list[AmiMessage] = []
    client.on_connected(signals.append)
    client.on_event("Shutdown", shutdowns.append)
    ami.push(recorded_event("ami_shutdown_restart", "Shutdown"))
    await eventually(lambda: bool(shutdowns))
    assert shutdowns[0]["Shutdown"] == "Cleanly"
    assert not client.connected
    with pytest.raises(AmiNotConnected):
        await client.action("Ping")
    ami.drop()  # the EOF that follows
    await eventually(lambda: signals == [True])
    assert client.connected


async def test_shutdown_without_eof_ends_the_session_after_the_grace_and_reconnects(
    ami: ScriptedAmi, client: AmiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ami_client, "_SHUTDOWN_GRACE_S", 0.05)
    signals: list[bool] = []
    client.on_connected(signals.append)
    ami.push(recorded_event("ami_shutdown_restart", "Shutdown"))
    await eventually(lambda: client.last_error is not None)  # no EOF: hotline hangs up
    assert client.last_error == "Asterisk shut down (no EOF)"
    await eventually(lambda: signals == [True])
    assert len(ami.actions("Login")) == 2


async def test_keepalive_ping_detects_a_peer_that_went_silent(ami: ScriptedAmi) -> None:
    client = make_client(ami, ping_interval_s=0.05, action_timeout_s=0.3)
    signals: list[bool] = []
    client.on_connected(signals.append)
    await client.start()
    try:
        await eventually(lambda: signals == [False])
        ami.answer_pings = False  # TCP stays open, nothing answers: a dead peer
        await eventually(lambda: len(ami.actions("Login")) == 2)
        ami.answer_pings = True
        await eventually(lambda: signals == [False, True])
    finally:
        await client.close()


async def test_close_logs_off_and_leaves_no_task_behind(ami: ScriptedAmi) -> None:
    before = asyncio.all_tasks()
    client = make_client(ami)
    await client.start()
    async with asyncio.timeout(5):
        await client.wait_connected()
        await client.close()
    assert [m.action for m in ami.received] == ["Login", "Logoff"]
    assert asyncio.all_tasks() == before
    assert not client.connected


def test_reconnect_delay_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    top = [reconnect_delay(n, 0.5, 30.0, uniform=lambda a, b: b) for n in range(10)]
    assert top[:4] == [0.5, 1.0, 2.0, 4.0]
    assert top[-1] == 30.0
    low = reconnect_delay(3, 0.5, 30.0, uniform=lambda a, b: a)
    assert 2.0 < low < 4.0
    assert reconnect_delay(10_000, 0.5, 30.0) <= 30.0


async def test_a_peer_that_does_not_speak_ami_is_retried_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connects = 0

    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connects
        connects += 1
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AmiClient(
        host="127.0.0.1", port=port, username=USER, secret=SECRET, reconnect_min_s=0.01
    )
    await client.start()
    try:
        await eventually(lambda: connects >= 3)
        assert not client.connected
        assert "not an AMI server" in (client.last_error or "")
        assert sum("not an AMI server" in r.getMessage() for r in caplog.records) == 1
    finally:
        await client.close()
        server.close()
        await server.wait_closed()

"""The AMI codec against every recorded Asterisk AMI transcript, plus hostile input."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.ami_codec_bench import LineDecoder
from telephony.ami_codec import (
    BANNER_PREFIX,
    HEADER_OUTPUT,
    HEADER_SECRET,
    AmiDecoder,
    AmiMessage,
    AmiProtocolError,
    Role,
    encode_banner,
    encode_message,
)
from tests.transcripts import ASTERISK_TO_SERVICE, SERVICE_TO_ASTERISK, load, names, stream

AMI_TRANSCRIPTS = names("ami_")
STRAY = "\r\n"


def _connections(name: str) -> list[int | None]:
    return sorted({r.conn for r in load(name)}, key=lambda c: c or 0)


CONNECTIONS = [(name, conn) for name in AMI_TRANSCRIPTS for conn in _connections(name)]


def _records(name: str, direction: str, conn: int | None) -> list[str]:
    return [r.data for r in load(name) if r.dir == direction and r.conn == conn and not r.eof]


def _decode_in_chunks(data: bytes, size: int, **kwargs: object) -> list[AmiMessage]:
    decoder = AmiDecoder(**kwargs)  # type: ignore[arg-type]
    out: list[AmiMessage] = []
    for i in range(0, len(data), size):
        out.extend(decoder.feed(data[i : i + size]))
    return out


def test_there_are_ami_transcripts_to_replay() -> None:
    assert len(AMI_TRANSCRIPTS) >= 14


@pytest.mark.parametrize(("name", "conn"), CONNECTIONS)
def test_each_asterisk_record_is_one_message_that_reencodes_byte_exact(
    name: str, conn: int | None
) -> None:
    decoder = AmiDecoder()
    for data in _records(name, ASTERISK_TO_SERVICE, conn):
        messages = decoder.feed(data.encode())
        if data.startswith(BANNER_PREFIX):
            assert messages == []
            assert decoder.banner == data.rstrip("\r\n")
            assert encode_banner(decoder.version or "") == data.encode()
        elif data == STRAY:
            assert messages == []
        else:
            assert len(messages) == 1, data
            assert messages[0].encode() == data.encode()
    assert decoder.pending_bytes == 0


@pytest.mark.parametrize(("name", "conn"), CONNECTIONS)
@pytest.mark.parametrize("chunk", [3, 977])
def test_chunking_does_not_change_what_decodes(name: str, conn: int | None, chunk: int) -> None:
    data = stream(name, ASTERISK_TO_SERVICE, conn)
    whole = AmiDecoder().feed(data)
    assert _decode_in_chunks(data, chunk) == whole


def test_byte_by_byte_feeding_decodes_a_whole_session() -> None:
    data = stream("ami_actions_idle", ASTERISK_TO_SERVICE)
    assert _decode_in_chunks(data, 1) == AmiDecoder().feed(data)


@pytest.mark.parametrize(("name", "conn"), CONNECTIONS)
def test_our_actions_decode_on_asterisks_side_and_pair_with_its_responses(
    name: str, conn: int | None
) -> None:
    actions = AmiDecoder(expect_banner=False).feed(stream(name, SERVICE_TO_ASTERISK, conn))
    replies = AmiDecoder().feed(stream(name, ASTERISK_TO_SERVICE, conn))
    responses = [m for m in replies if m.event is None and m.response is not None]
    assert [a.action_id for a in actions] == [r.action_id for r in responses]
    assert all(a.action or not a.pairs for a in actions)


def test_asterisk_side_decodes_the_deliberate_framing_tests() -> None:
    decoder = AmiDecoder(expect_banner=False)
    by_record = [
        decoder.feed(d.encode()) for d in _records("ami_actions_idle", SERVICE_TO_ASTERISK, None)
    ]
    flat = [m for batch in by_record for m in batch]
    lower = next(m for m in flat if m.action_id == "lower-case-keys")
    assert lower.action == "ping"
    assert lower.pairs == (("action", "ping"), ("actionid", "lower-case-keys"))
    half = [
        i
        for i, batch in enumerate(by_record)
        if any(m.action_id == "no-blank-line-yet" for m in batch)
    ]
    assert len(half) == 1
    assert by_record[half[0] - 1] == []
    assert next(m for m in flat if m.action_id == "lf-only").action == "Ping"
    assert AmiMessage(()) in flat  # the lone CRLF: Asterisk answers "Missing action in request"
    two = next(batch for batch in by_record if len(batch) == 2)
    assert [m.action_id for m in two] == ["two-in-one-1", "two-in-one-2"]


def test_stray_crlf_after_sipshowpeer_error_is_skipped() -> None:
    messages = AmiDecoder().feed(stream("ami_actions_idle", ASTERISK_TO_SERVICE))
    i = next(i for i, m in enumerate(messages) if m.action_id == "sipshowpeer-10")
    assert messages[i].message == "Peer nosuchpeer not found."
    assert messages[i + 1].action_id == "devicestatelist-11"
    assert messages[i + 1].starts_list


def test_command_output_keeps_every_output_line_in_order() -> None:
    messages = AmiDecoder().feed(stream("ami_actions_idle", ASTERISK_TO_SERVICE))
    peers = next(m for m in messages if m.action_id == "command-2")
    output = peers.get_all(HEADER_OUTPUT)
    assert len(output) > 5
    assert output[0].startswith("Name/username")
    assert peers[HEADER_OUTPUT] == output[0]
    assert any(line.startswith("agent1004") for line in output)


def test_list_markers_and_actionid_found_wherever_it_sits() -> None:
    messages = AmiDecoder().feed(stream("ami_actions_with_call", ASTERISK_TO_SERVICE))
    status = next(m for m in messages if m.event == "Status")
    assert status.pairs[-1][0] == "ActionID"
    assert status.action_id == "status-2"
    complete = next(m for m in messages if m.event == "StatusComplete")
    assert complete.completes_list
    assert not complete.starts_list


def test_service_side_keeps_leading_spaces_of_values() -> None:
    raw = b"Asterisk Call Manager/9.0.0\r\nEvent: VarSet\r\nValue:   minrtt=0;\r\n\r\n"
    assert AmiDecoder().feed(raw)[0]["value"] == "  minrtt=0;"


def test_asterisk_side_skips_blanks_after_the_colon_like_astman_get_header() -> None:
    assert AmiDecoder(expect_banner=False).feed(b"Action:   Ping\n\n")[0].action == "Ping"


def test_first_line_must_be_the_ami_banner() -> None:
    with pytest.raises(AmiProtocolError, match="not an AMI server"):
        AmiDecoder().feed(b"HTTP/1.1 400 Bad Request\r\n\r\n")


def test_banner_split_across_feeds_and_followed_by_a_message() -> None:
    decoder = AmiDecoder()
    assert decoder.feed(b"Asterisk Call Man") == []
    assert decoder.banner is None
    messages = decoder.feed(b"ager/9.0.0\r\nResponse: Success\r\n\r\n")
    assert decoder.version == "9.0.0"
    assert messages == [AmiMessage((("Response", "Success"),))]


def test_line_without_colon_from_asterisk_is_a_protocol_error() -> None:
    decoder = AmiDecoder()
    with pytest.raises(AmiProtocolError) as caught:
        decoder.feed(b"Asterisk Call Manager/9.0.0\r\nEvent: A\r\n\r\nEvent: B\r\ngarbage\r\n\r\n")
    assert [m.event for m in caught.value.messages] == ["A"]  # what decoded before the fault
    with pytest.raises(AmiProtocolError):
        decoder.feed(b"Event: C\r\n\r\n")  # out of sync for good: the connection must go


def test_line_without_colon_is_ignored_on_asterisks_side_as_asterisk_does() -> None:
    messages = AmiDecoder(expect_banner=False).feed(b"Action: Ping\r\nnonsense\r\n\r\n")
    assert messages == [AmiMessage((("Action", "Ping"),))]


@pytest.mark.parametrize("expect_banner", [True, False])
def test_oversized_line_is_refused_before_its_end_arrives(expect_banner: bool) -> None:
    decoder = AmiDecoder(expect_banner=expect_banner, max_line_bytes=100)
    with pytest.raises(AmiProtocolError, match="line longer"):
        decoder.feed(b"A" * 200)


def test_oversized_message_is_refused() -> None:
    decoder = AmiDecoder(expect_banner=False, max_message_bytes=1000)
    for _ in range(41):
        decoder.feed(b"Variable: x=1234567890\r\n")  # 984 bytes: still fine
    with pytest.raises(AmiProtocolError, match="message larger"):
        decoder.feed(b"Variable: x=1234567890\r\n")


def test_non_utf8_bytes_become_replacement_characters_not_errors() -> None:
    raw = b"Asterisk Call Manager/9.0.0\r\nEvent: Newchannel\r\nCallerIDName: Jos\xe9\x00\r\n\r\n"
    (message,) = AmiDecoder().feed(raw)
    assert message["CallerIDName"] == "Jos\ufffd\ufffd"


def test_lookup_is_case_insensitive_and_missing_keys_are_explicit() -> None:
    message = AmiMessage.of(("Response", "Error"), ActionID="x", Message="No such channel")
    assert message.get("actionid") == "x"
    assert message.action_id == "x"
    assert message.is_error
    assert not message.is_success
    assert "MESSAGE" in message
    assert "Channel" not in message
    assert message.get("Channel", "?") == "?"
    with pytest.raises(KeyError):
        message["Channel"]


def test_secrets_never_show_in_repr() -> None:
    login = AmiMessage.of(("Action", "Login"), Username="ivr", Secret="ivrsecret")
    assert "ivrsecret" not in repr(login)
    assert "ivrsecret" not in str(login)
    assert login[HEADER_SECRET] == "ivrsecret"


def test_encode_refuses_line_breaks_that_would_smuggle_an_action() -> None:
    with pytest.raises(ValueError, match="line break"):
        encode_message([("Action", "Setvar"), ("Value", "x\r\nAction: Hangup")])
    for key in ("", "Bad:Key", "Bad\nKey"):
        with pytest.raises(ValueError, match="header name"):
            encode_message([(key, "v")])


def test_encode_writes_asterisks_framing() -> None:
    assert encode_message([("Action", "Ping"), ("ActionID", "p-1")]) == (
        b"Action: Ping\r\nActionID: p-1\r\n\r\n"
    )


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2000), expect_banner=st.booleans(), cut=st.integers(1, 64))
def test_random_bytes_raise_nothing_but_protocol_errors(
    data: bytes, expect_banner: bool, cut: int
) -> None:
    decoder = AmiDecoder(expect_banner=expect_banner, max_message_bytes=512, max_line_bytes=128)
    try:
        for i in range(0, len(data), cut):
            decoder.feed(data[i : i + cut])
    except AmiProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    connection=st.sampled_from(CONNECTIONS),
    direction=st.sampled_from([ASTERISK_TO_SERVICE, SERVICE_TO_ASTERISK]),
    fraction=st.floats(0, 1),
    splits=st.lists(st.integers(0, 70000), max_size=8),
)
def test_truncated_and_resplit_transcripts_decode_to_a_prefix(
    connection: tuple[str, int | None], direction: str, fraction: float, splits: list[int]
) -> None:
    name, conn = connection
    data = stream(name, direction, conn)
    expect_banner = direction == ASTERISK_TO_SERVICE
    full = AmiDecoder(expect_banner=expect_banner).feed(data)
    cut = data[: int(len(data) * fraction)]
    bounds = sorted({0, len(cut), *(s for s in splits if s < len(cut))})
    decoder = AmiDecoder(expect_banner=expect_banner)
    got: list[AmiMessage] = []
    for start, end in itertools.pairwise(bounds):
        got.extend(decoder.feed(cut[start:end]))
    assert got == full[: len(got)]


# -- the frame-at-once decoder against the line-at-a-time one it replaced -------------------

READ_SIZES = [*range(1, 33), 47, 64, 97, 128, 509, 977, 4096, 65536]


@pytest.mark.parametrize(("name", "conn"), CONNECTIONS)
@pytest.mark.parametrize("direction", [ASTERISK_TO_SERVICE, SERVICE_TO_ASTERISK])
def test_reads_of_every_size_decode_exactly_like_the_line_at_a_time_decoder(
    name: str, conn: int | None, direction: str
) -> None:
    data = stream(name, direction, conn)
    expect_banner = direction == ASTERISK_TO_SERVICE
    reference = LineDecoder(expect_banner=expect_banner).feed(data)
    assert reference
    for size in READ_SIZES:  # 1 to 32 put a read boundary at every offset of every message
        assert _decode_in_chunks(data, size, expect_banner=expect_banner) == reference, size


AMI_SOUP = st.sampled_from(
    [b"Event: Newchannel", b"Key", b":", b": ", b" ", b"\t", b"\r\n", b"\n", b"\r", b"\r\n\r\n",
     b"\n\n", b"Value", b"\xe9", b"\xe2\x82", b"\x00", b"A" * 40, b"Asterisk Call Manager/9.0.0"]
)  # fmt: skip


def _outcomes(decoder: AmiDecoder | LineDecoder, chunks: list[bytes]) -> list[object]:
    """What each feed gave: the messages and what is held, or the error and what came first."""
    got: list[object] = []
    for chunk in chunks:
        try:
            got.append((decoder.feed(chunk), decoder.pending_bytes))
        except AmiProtocolError as exc:
            got.append((str(exc), exc.messages))
    return got


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(AMI_SOUP, max_size=60),
    cuts=st.lists(st.integers(0, 400), max_size=6),
    role=st.sampled_from(["service", "asterisk"]),
    caps=st.sampled_from([(65536, 8192), (120, 40), (60, 200)]),
)
def test_hostile_bytes_give_the_same_messages_errors_and_timing_as_before(
    parts: list[bytes], cuts: list[int], role: Role, caps: tuple[int, int]
) -> None:
    data = b"".join(parts)
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    message, line = caps
    kwargs = {"max_message_bytes": message, "max_line_bytes": line, "role": role}
    expect_banner = role == "service"
    new = AmiDecoder(expect_banner=expect_banner, **kwargs)  # type: ignore[arg-type]
    old = LineDecoder(expect_banner=expect_banner, **kwargs)  # type: ignore[arg-type]
    assert _outcomes(new, chunks) == _outcomes(old, chunks)
    assert new.banner == old.banner


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
@pytest.mark.parametrize("role", ["service", "asterisk"])
def test_caps_hold_to_the_byte_for_whole_messages_as_before(eol: bytes, role: Role) -> None:
    frame = eol.join([b"Event: Newchannel", b"Channel: SIP/caller-0000002a", b"Exten: 100", b""])
    data = (BANNER_PREFIX.encode() + b"9.0.0" + eol if role == "service" else b"") + frame + eol
    # the accounting of the old decoder: each line's bytes without its line end, plus 2
    size = sum(len(line) + 2 for line in frame.split(eol) if line)
    longest = max(len(line) for line in frame.split(eol))
    for message, line in [*((m, 8192) for m in range(size - 2, size + 3)),
                          *((65536, n) for n in range(longest - 2, longest + 3))]:  # fmt: skip
        kwargs = {"max_message_bytes": message, "max_line_bytes": line, "role": role}
        new = AmiDecoder(expect_banner=role == "service", **kwargs)  # type: ignore[arg-type]
        old = LineDecoder(expect_banner=role == "service", **kwargs)  # type: ignore[arg-type]
        assert _outcomes(new, [data]) == _outcomes(old, [data]), (message, line)
    banner = role == "service"
    assert AmiDecoder(max_message_bytes=size, expect_banner=banner, role=role).feed(data)
    with pytest.raises(AmiProtocolError, match="message larger"):
        AmiDecoder(max_message_bytes=size - 1, expect_banner=banner, role=role).feed(data)

"""The FastAGI codec against every recorded Asterisk transcript, and against hostile bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony import agi_codec as agi
from telephony.agi_codec import (
    AgiProtocolError,
    AgiResponse,
    CommandDecoder,
    EnvironmentDecoder,
    Hangup,
    ResponseDecoder,
)
from tests.transcripts import ASTERISK_TO_SERVICE, SERVICE_TO_ASTERISK, load, names, stream

AGI_TRANSCRIPTS = names("agi_")
# Lines the recorder sent on purpose to probe Asterisk; our encoder refuses to produce them.
NOT_OURS = {"GET VARIABLE IVR_X\r", ""}


def connections(name: str) -> list[int | None]:
    return sorted({r.conn for r in load(name)}, key=lambda c: c or 0)


def decode_asterisk_side(
    data: bytes, chunk: int | None = None
) -> tuple[agi.AgiEnvironment, list[AgiResponse | Hangup]]:
    env_decoder, replies = EnvironmentDecoder(), ResponseDecoder()
    env = None
    items: list[AgiResponse | Hangup] = []
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        if env is None:
            env = env_decoder.feed(piece)
            if env is not None:
                items += replies.feed(env_decoder.rest)
        else:
            items += replies.feed(piece)
    assert env is not None
    assert replies.idle
    return env, items


def test_every_agi_transcript_is_covered() -> None:
    assert len(AGI_TRANSCRIPTS) >= 30  # all of tests/fixtures/asterisk/agi_*.jsonl


@pytest.mark.parametrize("name", AGI_TRANSCRIPTS)
def test_asterisk_stream_round_trips_byte_for_byte(name: str) -> None:
    for conn in connections(name):
        data = stream(name, ASTERISK_TO_SERVICE, conn)
        env, items = decode_asterisk_side(data)
        encoded = agi.encode_environment(list(env.variables.items()))
        encoded += b"".join(agi.encode_reply(item) for item in items)
        assert encoded == data


@pytest.mark.parametrize("name", AGI_TRANSCRIPTS)
def test_asterisk_stream_decodes_the_same_in_any_chunking(name: str) -> None:
    for conn in connections(name):
        data = stream(name, ASTERISK_TO_SERVICE, conn)
        whole = decode_asterisk_side(data)
        for chunk in (1, 7, 64):
            assert decode_asterisk_side(data, chunk) == whole


@pytest.mark.parametrize("name", AGI_TRANSCRIPTS)
def test_asterisk_stream_decodes_the_same_one_line_per_read(name: str) -> None:
    """A read holding exactly one frequent reply takes the decoder's shortcut."""
    for conn in connections(name):
        data = stream(name, ASTERISK_TO_SERVICE, conn)
        env_decoder, replies = EnvironmentDecoder(), ResponseDecoder()
        assert env_decoder.feed(data) is not None
        items = [
            item
            for line in env_decoder.rest.splitlines(keepends=True)
            for item in replies.feed(line)
        ]
        assert items == decode_asterisk_side(data)[1]


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        # a provisional 100 belongs to the frequent reply that follows it in another read
        ([b"100 result=0 Trying...\n", b"200 result=0\n"],
         [AgiResponse(200, "0", provisional="result=0 Trying...")]),
        # a usage block's line that reads like a frequent reply is one of its lines
        ([b"520-Invalid command syntax.  Proper usage follows:\n", b"HANGUP\n",
          b"200 result=0\n", b"520 End of proper usage.\n"],
         [AgiResponse(520, "", extra="Invalid command syntax.  Proper usage follows:",
                      usage=("HANGUP", "200 result=0"))]),
    ],
)  # fmt: skip
def test_a_frequent_reply_alone_in_a_read_keeps_the_reply_in_progress(
    reads: list[bytes], expected: list[AgiResponse]
) -> None:
    replies = ResponseDecoder()
    assert [item for data in reads for item in replies.feed(data)] == expected
    assert replies.idle


def test_the_tail_of_an_overlong_line_is_dropped_even_when_it_reads_like_a_reply() -> None:
    replies = ResponseDecoder(max_line=100)
    with pytest.raises(AgiProtocolError):
        replies.feed(b"200 result=1 (" + b"x" * 200)
    assert replies.feed(b"200 result=0\n") == []  # the end of the long line
    assert replies.feed(b"200 result=1\n") == [AgiResponse(200, "1")]


@pytest.mark.parametrize("name", AGI_TRANSCRIPTS)
def test_service_commands_split_and_reencode_byte_for_byte(name: str) -> None:
    for conn in connections(name):
        lines = CommandDecoder().feed(stream(name, SERVICE_TO_ASTERISK, conn))
        for line in lines:
            if line in NOT_OURS:
                continue
            words = agi.split_command(line)
            command, _ = agi.parse_command(words)
            n = len(command.split()) if command else 1
            assert agi.encode_command(" ".join(words[:n]), *words[n:]) == f"{line}\n".encode()


def test_every_recorded_command_name_is_known_except_the_bogus_one() -> None:
    unknown = set()
    for name in AGI_TRANSCRIPTS:
        for line in CommandDecoder().feed(stream(name, SERVICE_TO_ASTERISK)):
            words = agi.split_command(line)
            if words and agi.parse_command(words)[0] is None:
                unknown.add(line)
    assert unknown == {"FOO BAR"}


def test_environment_gives_routing_and_caller_fields() -> None:
    env, _ = decode_asterisk_side(stream("agi_args", ASTERISK_TO_SERVICE))
    assert env.script == "hotline"
    assert env.request == "agi://127.0.0.1:4573/hotline"
    assert env.channel.startswith("SIP/caller-")
    assert env.caller_id == "caller"
    assert env.caller_id_name == "args"
    assert (env.context, env.extension, env.priority) == ("hotline", "102", "3")
    assert env.args == ("first arg", "second")
    assert env.variables["agi_accountcode"] == ""


@pytest.mark.parametrize(
    ("script", "route"),
    [("hotline", "hotline"), ("/hotline/", "hotline"), ("hotline?lang=de", "hotline"),
     ("ivr/main?x=1&y=2", "ivr/main")],
)  # fmt: skip
def test_script_route_ignores_query_string_and_slashes(script: str, route: str) -> None:
    env = EnvironmentDecoder().feed(f"agi_network_script: {script}\n\n".encode())
    assert env is not None
    assert env.script == route


def test_script_is_derived_from_the_request_when_network_script_is_missing() -> None:
    env = EnvironmentDecoder().feed(b"agi_request: agi://10.0.0.1:4573/hotline?lang=de\n\n")
    assert env is not None
    assert env.script == "hotline"
    assert env.query == {"lang": "de"}


def test_environment_rest_holds_bytes_after_the_blank_line() -> None:
    decoder = EnvironmentDecoder()
    assert decoder.feed(b"agi_network: yes\n") is None
    assert decoder.feed(b"\nHANGUP\n") is not None
    assert decoder.rest == b"HANGUP\n"


def test_non_utf8_caller_name_is_replaced_not_fatal() -> None:
    env = EnvironmentDecoder().feed(b"agi_calleridname: J\xf6rg\n\n")
    assert env is not None
    assert env.caller_id_name == "J\ufffdrg"


@pytest.mark.parametrize(
    "data",
    [b"a" * 3000, b"agi_x: " + b"y" * 3000 + b"\n\n", b"agi_x: 1\n" * 2000, b"garbage\n\n",
     b"agi_x: 1\nagi_x: 2\n\n", b": empty key\n\n", b"agi x: 1\n\n"],
)  # fmt: skip
def test_environment_rejects_oversized_or_malformed_blocks(data: bytes) -> None:
    with pytest.raises(AgiProtocolError):
        EnvironmentDecoder(max_bytes=16384, max_line=2048).feed(data)


def test_responses_decode_into_typed_fields() -> None:
    lines = (
        b"200 result= (timeout)\n200 result=35 (dtmf) endpos=18880\n200 result=0 endpos=-1\n"
        b'200 result=1 (hello (world) "x" <1>)\n200 result=-1 Gosub label not found\n'
        b"100 result=0 Trying...\n200 result=0 Gosub complete\nHANGUP\n"
        b"510 Invalid or unknown command\n"
        b"520 Invalid command syntax.  Proper usage not available.\n"
    )
    items = ResponseDecoder().feed(lines)
    assert items == [
        AgiResponse(200, "", data="timeout"),
        AgiResponse(200, "35", data="dtmf", endpos=18880),
        AgiResponse(200, "0", endpos=-1),
        AgiResponse(200, "1", data='hello (world) "x" <1>'),
        AgiResponse(200, "-1", extra="Gosub label not found"),
        AgiResponse(200, "0", extra="Gosub complete", provisional="result=0 Trying..."),
        Hangup(),
        AgiResponse(510, "", extra="Invalid or unknown command"),
        AgiResponse(520, "", extra="Invalid command syntax.  Proper usage not available."),
    ]
    assert b"".join(agi.encode_reply(i) for i in items) == lines


def test_usage_block_is_one_response_with_its_lines() -> None:
    decoder = ResponseDecoder()
    assert decoder.feed(b"520-Invalid command syntax.  Proper usage follows:\nfirst\n") == []
    assert not decoder.idle
    (item,) = decoder.feed(b"  second\n520 End of proper usage.\n")
    assert isinstance(item, AgiResponse)
    assert (item.code, item.usage) == (520, ("first", "  second"))
    assert agi.encode_usage(item.usage) == agi.encode_reply(item)


def test_usage_block_is_capped() -> None:
    decoder = ResponseDecoder(max_usage_lines=3)
    with pytest.raises(AgiProtocolError):
        decoder.feed(b"520-x\n" + b"line\n" * 4)


@pytest.mark.parametrize(
    "line", [b"OK\n", b"2000 result=1\n", b"200 ok\n", b"\xff\xfe\n", b"\n", b"200-x\n"]
)
def test_garbage_replies_are_protocol_errors(line: bytes) -> None:
    with pytest.raises(AgiProtocolError):
        ResponseDecoder().feed(line)


def test_reply_line_length_is_capped_even_without_newline() -> None:
    with pytest.raises(AgiProtocolError):
        ResponseDecoder(max_line=100).feed(b"200 result=1 (" + b"x" * 200)


def test_encode_response_uses_asterisk_order() -> None:
    assert agi.encode_response(-1, data="hangup", endpos=20640) == (
        b"200 result=-1 (hangup) endpos=20640\n"
    )
    assert agi.encode_response("", data="timeout") == b"200 result= (timeout)\n"
    assert agi.encode_response(0, extra="Gosub complete") == b"200 result=0 Gosub complete\n"


@pytest.mark.parametrize(
    ("words", "line"),
    [
        (("STREAM FILE", "hello-world", ""), b'STREAM FILE hello-world ""\n'),
        (("STREAM FILE", "demo", "#", 8000), b'STREAM FILE demo "#" 8000\n'),
        (("RECORD FILE", "/tmp/r", "wav", "#", 2000), b'RECORD FILE /tmp/r wav "#" 2000\n'),
        (("SET VARIABLE", "X", "a b"), b'SET VARIABLE X "a b"\n'),
        (("SET CALLERID", '"N" <1>'), b'SET CALLERID "\\"N\\" <1>"\n'),
        (("SET VARIABLE", "P", "C:\\x"), b'SET VARIABLE P "C:\\\\x"\n'),
        (("EXEC", "Dial", "SIP/a,15"), b"EXEC Dial SIP/a,15\n"),
        (("VERBOSE", "tab\there", 1), b'VERBOSE "tab\there" 1\n'),
    ],
)
def test_encode_command_quotes_like_asterisk_expects(words: tuple[str, ...], line: bytes) -> None:
    assert agi.encode_command(*words) == line
    assert agi.split_command(line[:-1].decode())[len(words[0].split()) :] == [
        str(w) for w in words[1:]
    ]


@pytest.mark.parametrize(
    "words",
    [("GET VARIABLE", "X\nANSWER"), ("SET VARIABLE", "X", "a\rb"), ("SET VARIABLE", "\0"),
     ("STREAM;FILE", "x"), ("",), ("SET VARIABLE", "X", "\udcff")],
)  # fmt: skip
def test_encode_command_refuses_injection_and_bad_names(words: tuple[str, ...]) -> None:
    with pytest.raises(AgiProtocolError):
        agi.encode_command(*words)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('SET VARIABLE X "a b"', ["SET", "VARIABLE", "X", "a b"]),
        ('SAY NUMBER 1 ""', ["SAY", "NUMBER", "1", ""]),
        ('a"b c"d', ["ab cd"]),
        ('x \\"y\\"', ["x", '"y"']),
        ("x\\ y", ["x y"]),
        ("GET VARIABLE IVR_X\r", ["GET", "VARIABLE", "IVR_X\r"]),
        ("a\t\tb  ", ["a", "b"]),
        ("", []),
        ("trailing\\", ["trailing"]),
    ],
)
def test_split_command_matches_asterisk_parse_args(line: str, words: list[str]) -> None:
    assert agi.split_command(line) == words


def test_split_command_drops_words_past_asterisks_limit() -> None:
    words = agi.split_command(" ".join(str(i) for i in range(200)))
    assert words == [str(i) for i in range(agi.MAX_ARGS - 1)]


def test_parse_command_is_case_insensitive_and_whole_word() -> None:
    assert agi.parse_command(["stream", "file", "x", ""]) == (agi.STREAM_FILE, ["x", ""])
    assert agi.parse_command(["DATABASE", "DELTREE", "f"]) == (agi.DATABASE_DELTREE, ["f"])
    assert agi.parse_command(["GET"]) == (None, ["GET"])


def test_command_decoder_keeps_carriage_return_and_caps_lines() -> None:
    decoder = CommandDecoder(max_line=16)
    assert decoder.feed(b"ANSWER\nGET VARIABLE X\r\nNO") == ["ANSWER", "GET VARIABLE X\r"]
    assert decoder.feed(b"OP\n") == ["NOOP"]
    with pytest.raises(AgiProtocolError):
        decoder.feed(b"x" * 17)


def test_command_decoder_rejects_non_utf8() -> None:
    with pytest.raises(AgiProtocolError):
        CommandDecoder().feed(b"VERBOSE \xff\n")


# -- hostile input ----------------------------------------------------------------------------

chunks = st.lists(st.binary(max_size=300), max_size=8)


@given(chunks)
def test_random_bytes_into_environment_decoder_only_raise_protocol_errors(
    data: list[bytes],
) -> None:
    decoder = EnvironmentDecoder(max_bytes=512, max_line=128)
    try:
        for piece in data:
            if decoder.feed(piece) is not None:
                break
    except AgiProtocolError:
        pass


@given(chunks)
def test_random_bytes_into_response_decoder_only_raise_protocol_errors(data: list[bytes]) -> None:
    decoder = ResponseDecoder(max_line=128, max_usage_lines=5)
    try:
        for piece in data:
            decoder.feed(piece)
    except AgiProtocolError:
        pass


@given(chunks)
def test_random_bytes_into_command_decoder_only_raise_protocol_errors(data: list[bytes]) -> None:
    decoder = CommandDecoder(max_line=128)
    try:
        for piece in data:
            for line in decoder.feed(piece):
                agi.parse_command(agi.split_command(line))
    except AgiProtocolError:
        pass


@given(st.text(max_size=200))
def test_split_command_never_fails(line: str) -> None:
    assert len(agi.split_command(line)) < agi.MAX_ARGS


@settings(max_examples=200)
@given(st.lists(st.text(st.characters(exclude_characters="\n\r\0"), max_size=20), max_size=10))
def test_encoded_arguments_split_back_to_themselves(args: list[str]) -> None:
    try:
        line = agi.encode_command("NOOP", *args)
    except AgiProtocolError:
        return  # unencodable (surrogates)
    assert agi.split_command(line[:-1].decode())[1:] == args


safe_text = st.text(st.characters(exclude_characters="()\n\r", codec="utf-8"), max_size=20)


@given(
    st.one_of(st.integers(-5, 99999), st.just("")),
    st.none() | safe_text,
    st.none() | st.integers(-1, 10**6),
    safe_text.filter(lambda s: not s.startswith(("endpos=", " "))),
)
def test_encode_response_decodes_back(
    result: int | str, data: str | None, endpos: int | None, extra: str
) -> None:
    encoded = agi.encode_response(result, data=data, endpos=endpos, extra=extra)
    (item,) = ResponseDecoder().feed(encoded)
    assert isinstance(item, AgiResponse)
    assert (item.result, item.data, item.endpos, item.extra) == (str(result), data, endpos, extra)


def _cuts(data: bytes) -> range:
    return range(0, len(data) + 1, max(1, len(data) // 300))


@pytest.mark.parametrize("name", AGI_TRANSCRIPTS)
def test_truncated_transcripts_never_raise(name: str) -> None:
    for direction in (ASTERISK_TO_SERVICE, SERVICE_TO_ASTERISK):
        for conn in connections(name):
            _replay_prefixes(stream(name, direction, conn), direction)


def _replay_prefixes(data: bytes, direction: str) -> None:
    for cut in _cuts(data):
        if direction == SERVICE_TO_ASTERISK:
            CommandDecoder().feed(data[:cut])
            continue
        env_decoder = EnvironmentDecoder()
        if env_decoder.feed(data[:cut]) is not None:
            ResponseDecoder().feed(env_decoder.rest)

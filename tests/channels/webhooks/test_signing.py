"""The Hotline-Signature header: a receiver holding the secret can tell that a request is
ours, intact and recent; during a rotation either secret is accepted."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.webhooks.signing import (
    MalformedSignature,
    SignatureMismatch,
    StaleSignature,
    parse_header,
    secrets_from,
    sign,
    verify,
)

BODY = b'{"id":"evt_1","type":"task.created","created_at":"2026-03-02T09:00:00.000000Z","data":{}}'
NEW, OLD = b"new-secret-0123456789", b"old-secret-0123456789"
T = 1_772_442_000


def test_a_signed_body_verifies_with_the_secret_and_returns_its_time() -> None:
    header = sign(BODY, [NEW], T)

    assert verify(header, BODY, [NEW], now=T + 1) == T


def test_the_signature_is_hmac_sha256_of_the_time_a_dot_and_the_body() -> None:
    expected = hmac.new(NEW, f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert sign(BODY, [NEW], T) == f"t={T},v1={expected}"


@given(body=st.binary(max_size=2048), timestamp=st.integers(0, 10**11))
def test_any_body_round_trips(body: bytes, timestamp: int) -> None:
    assert verify(sign(body, [NEW], timestamp), body, [NEW], now=timestamp) == timestamp


def test_during_a_rotation_a_receiver_with_either_secret_accepts() -> None:
    header = sign(BODY, [NEW, OLD], T)

    assert len(parse_header(header)[1]) == 2
    assert verify(header, BODY, [OLD], now=T) == T
    assert verify(header, BODY, [NEW], now=T) == T
    assert verify(sign(BODY, [NEW], T), BODY, [NEW, OLD], now=T) == T


def test_a_receiver_with_another_secret_refuses() -> None:
    with pytest.raises(SignatureMismatch):
        verify(sign(BODY, [OLD], T), BODY, [b"someone-else-entirely"], now=T)


@pytest.mark.parametrize(
    "tampered",
    [
        BODY.replace(b"task.created", b"task.deleted"),
        BODY + b" ",
        BODY[:-1],
        b"",
    ],
)
def test_a_tampered_body_is_refused(tampered: bytes) -> None:
    with pytest.raises(SignatureMismatch):
        verify(sign(BODY, [NEW], T), tampered, [NEW], now=T)


def test_a_changed_timestamp_is_refused() -> None:
    header = sign(BODY, [NEW], T).replace(f"t={T}", f"t={T + 60}")

    with pytest.raises(SignatureMismatch):
        verify(header, BODY, [NEW], now=T + 60)


def test_a_signature_outside_the_tolerance_is_refused_either_way() -> None:
    header = sign(BODY, [NEW], T)

    assert verify(header, BODY, [NEW], tolerance_s=300, now=T + 300) == T
    assert verify(header, BODY, [NEW], tolerance_s=300, now=T - 300) == T
    with pytest.raises(StaleSignature):
        verify(header, BODY, [NEW], tolerance_s=300, now=T + 301)  # a replay
    with pytest.raises(StaleSignature):
        verify(header, BODY, [NEW], tolerance_s=300, now=T - 301)  # sender's clock ahead


def test_unknown_schemes_are_ignored_so_a_new_one_can_be_added_beside_v1() -> None:
    header = sign(BODY, [NEW], T) + ",v2=whatever-comes-next"

    assert verify(header, BODY, [NEW], now=T) == T


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"t={T}",
        "v1=" + "0" * 64,
        f"t={T},t={T},v1=" + "0" * 64,
        f"t=-{T},v1=" + "0" * 64,
        f"t={T},v1=" + "Z" * 64,
        f"t={T},v1=abc",
        "t=١٢٣,v1=" + "0" * 64,  # non-ASCII digits
        f"t={T}," + ",".join(["v1=" + "0" * 64] * 9),
        "t=" + "9" * 5000,
    ],
)
def test_a_malformed_header_is_refused_with_its_own_error(header: str) -> None:
    with pytest.raises(MalformedSignature):
        verify(header, BODY, [NEW], now=T)


def test_an_environment_value_holds_one_or_several_secrets() -> None:
    assert secrets_from("abc") == (b"abc",)
    assert secrets_from("  new-one   old-one ") == (b"new-one", b"old-one")
    assert secrets_from("new-one,old-one") == (b"new-one", b"old-one")
    assert secrets_from("") == ()


def test_signing_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        sign(BODY, [], T)

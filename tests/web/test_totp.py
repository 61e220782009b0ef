"""RFC 6238 (and RFC 4226) as the RFCs' own test vectors state them; skew and replay."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from hotline.web.auth.totp import (
    hotp,
    matching_step,
    new_secret,
    normalise_code,
    provisioning_uri,
    secret_bytes,
    totp,
)

# RFC 6238 Appendix B: the seeds are ASCII "1234567890" repeated to the hash's length.
SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
# RFC 4226 Appendix D: HOTP of the SHA-1 seed for counters 0..9.
RFC4226 = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]


@pytest.mark.parametrize(("unix_s", "sha1", "sha256", "sha512"), RFC6238)
def test_rfc_6238_vectors(unix_s: int, sha1: str, sha256: str, sha512: str) -> None:
    for algorithm, expected in (("SHA1", sha1), ("SHA256", sha256), ("SHA512", sha512)):
        assert totp(SEEDS[algorithm], unix_s, digits=8, algorithm=algorithm) == expected


def test_rfc_4226_vectors() -> None:
    assert [hotp(SEEDS["SHA1"], counter) for counter in range(10)] == RFC4226


SECRET = base64.b32encode(SEEDS["SHA1"]).decode()


def test_a_code_of_the_step_before_or_after_is_accepted_and_named() -> None:
    now = 1111111111.0
    step = int(now // 30)
    for offset in (-1, 0, 1):
        code = totp(SEEDS["SHA1"], now + 30 * offset)
        assert matching_step(SECRET, code, now) == step + offset
    two_away = totp(SEEDS["SHA1"], now + 60)
    assert matching_step(SECRET, two_away, now) is None


def test_a_code_already_used_in_its_window_is_refused() -> None:
    now = 1234567890.0
    code = totp(SEEDS["SHA1"], now)
    step = matching_step(SECRET, code, now)
    assert step is not None
    assert matching_step(SECRET, code, now + 10, after_step=step) is None
    # ... and so is an older one, once a later step was accepted
    earlier = totp(SEEDS["SHA1"], now - 30)
    assert matching_step(SECRET, earlier, now, after_step=step) is None
    later = totp(SEEDS["SHA1"], now + 30)
    assert matching_step(SECRET, later, now + 30, after_step=step) == step + 1


def test_wrong_or_malformed_codes_match_nothing() -> None:
    now = 1234567890.0
    right = totp(SEEDS["SHA1"], now)
    wrong = str((int(right) + 1) % 1_000_000).zfill(6)
    for code in (wrong, "", "12345", "1234567", "abcdef", "１２３４５６"):
        assert matching_step(SECRET, code, now) is None
    assert normalise_code(" 123 456 ") == "123456"
    assert normalise_code("123-456") == "123456"


def test_new_secrets_are_160_random_bits_in_base32() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(len(secret_bytes(s)) == 20 for s in secrets)
    with pytest.raises(ValueError, match="base32"):
        secret_bytes("not base32 at all!")


def test_the_provisioning_uri_carries_secret_issuer_and_account() -> None:
    uri = provisioning_uri("JBSWY3DPEHPK3PXP", "ada", "hotline")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc, parts.path) == ("otpauth", "totp", "/hotline:ada")
    query = parse_qs(parts.query)
    assert query["secret"] == ["JBSWY3DPEHPK3PXP"]
    assert query["issuer"] == ["hotline"]
    assert query["digits"] == ["6"]
    assert query["period"] == ["30"]

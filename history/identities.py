"""Identities: how a customer is recognised on each channel, and their normal form.

One person reaches the hotline from a phone, a chat handle, an e-mail address. Each identity
is stored normalised (E.164 for numbers, lower case for e-mail) so that ``01632 960123``
dialled in the UK and ``+44 1632 960123`` typed into a chat form find the same customer.

A voice caller ID is whatever the carrier or the PBX sent: a number, an internal extension
(``2001``), a SIP user (``bot2``, ``alice@pbx.example``), or a withheld marker. Each is kept
as what it is (``caller_identity``): ``phone`` when it is a telephone number, ``extension``
for a short dial string, ``sip`` for any other name, and no identity at all (an anonymous
contact) when it is withheld. No caller ID costs a call its record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from history.errors import InvalidIdentity


class IdentityKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    WHATSAPP = "whatsapp"
    SMS = "sms"
    #: A SIP user or URI a caller came from (``bot2``, ``alice@pbx.example``).
    SIP = "sip"
    #: An internal extension: a dial string too short to be a telephone number (``2001``).
    EXTENSION = "extension"


#: Kinds whose value is a telephone number: a caller on one is the same person on the others.
PHONE_KINDS = frozenset({IdentityKind.PHONE, IdentityKind.WHATSAPP, IdentityKind.SMS})

#: Caller-ID strings Asterisk and carriers use when the number is withheld.
WITHHELD = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable"})

MAX_VALUE_LENGTH = 320
_SEPARATORS = re.compile(r"[\s\-.()/]")
_DIGITS = re.compile(r"\d+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URI_PREFIXES = ("tel:", "whatsapp:", "sms:")
_SIP_PREFIXES = ("sips:", "sip:")
_EXTENSION = re.compile(r"[0-9*#]{1,15}")


@dataclass(frozen=True)
class PhoneNormaliser:
    """Turns what callers, carriers and web forms send into E.164 (``+441632960123``).

    Numbers without an international prefix are taken as national numbers of
    ``default_country_code``; ``national_prefix`` (the trunk ``0`` in most of Europe) is
    dropped first. A bare digit string longer than ``max_national_digits`` is taken to
    carry its country code already (Asterisk often delivers ``441632960123``).
    """

    default_country_code: str = "44"
    national_prefix: str = "0"
    international_prefix: str = "00"
    max_national_digits: int = 10

    def __post_init__(self) -> None:
        if not self.default_country_code.isdigit() or len(self.default_country_code) > 3:
            raise ValueError(f"country code {self.default_country_code!r} is not 1-3 digits")

    def normalise(self, raw: str) -> str:
        """E.164 form of ``raw``; :class:`InvalidIdentity` if it is not a telephone number."""
        text = raw.strip()
        lowered = text.lower()
        for prefix in _URI_PREFIXES:
            if lowered.startswith(prefix):
                text = text[len(prefix) :]
                break
        compact = _SEPARATORS.sub("", text)
        if compact.lower() in WITHHELD:
            raise InvalidIdentity(IdentityKind.PHONE, raw, "the number is withheld")
        if compact.startswith("+"):
            digits = compact[1:]
        elif self.international_prefix and compact.startswith(self.international_prefix):
            digits = compact[len(self.international_prefix) :]
        elif self.national_prefix and compact.startswith(self.national_prefix):
            digits = self.default_country_code + compact[len(self.national_prefix) :]
        elif len(compact) > self.max_national_digits:
            digits = compact
        else:
            digits = self.default_country_code + compact
        if not _DIGITS.fullmatch(digits):
            raise InvalidIdentity(IdentityKind.PHONE, raw, "a phone number holds only digits")
        if not 8 <= len(digits) <= 15 or digits.startswith("0"):
            raise InvalidIdentity(
                IdentityKind.PHONE, raw, "not an E.164 number (8 to 15 digits, country code first)"
            )
        return "+" + digits


def normalise_email(raw: str) -> str:
    value = raw.strip().lower()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise InvalidIdentity(IdentityKind.EMAIL, raw, "not an e-mail address")
    return value


def _without_sip_prefix(raw: str) -> str:
    text = raw.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    lowered = text.lower()
    for prefix in _SIP_PREFIXES:
        if lowered.startswith(prefix):
            return text[len(prefix) :]
    return text


def normalise_sip(raw: str) -> str:
    """A SIP user (``bot2``) or ``user@host``: the ``sip:`` scheme, angle brackets and URI
    parameters are not part of it; the host is case-insensitive, the user is not."""
    value = _without_sip_prefix(raw).split(";", 1)[0].strip()
    user, at, host = value.partition("@")
    value = f"{user}@{host.lower()}" if at else user
    if not user or len(value) > 256 or _CONTROL.search(value) or " " in value:
        raise InvalidIdentity(IdentityKind.SIP, raw, "a SIP user is 1-256 printable characters")
    return value


def normalise_extension(raw: str) -> str:
    value = _SEPARATORS.sub("", raw.strip())
    if not _EXTENSION.fullmatch(value):
        raise InvalidIdentity(IdentityKind.EXTENSION, raw, "an extension is 1-15 of 0-9 * #")
    return value


def normalise_handle(raw: str) -> str:
    """Chat handles are opaque to us: only surrounding blanks are not part of them."""
    value = raw.strip()
    if not value or len(value) > 256 or _CONTROL.search(value):
        raise InvalidIdentity(IdentityKind.CHAT, raw, "a chat handle is 1-256 printable chars")
    return value


@dataclass(frozen=True)
class IdentityNormaliser:
    """Normal form of any identity kind; the one place the repository asks."""

    phones: PhoneNormaliser = PhoneNormaliser()

    def normalise(self, kind: IdentityKind | str, value: str) -> tuple[IdentityKind, str]:
        try:
            kind = IdentityKind(kind)
        except ValueError:
            raise InvalidIdentity(str(kind), value, "unknown identity kind") from None
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidIdentity(kind, value[:32], "longer than 320 characters")
        if kind in PHONE_KINDS:
            try:
                return kind, self.phones.normalise(value)
            except InvalidIdentity as error:
                raise InvalidIdentity(kind, value, error.reason) from None
        if kind is IdentityKind.EMAIL:
            return kind, normalise_email(value)
        if kind is IdentityKind.SIP:
            return kind, normalise_sip(value)
        if kind is IdentityKind.EXTENSION:
            return kind, normalise_extension(value)
        return kind, normalise_handle(value)

    def caller_identity(self, raw: str | None) -> tuple[IdentityKind, str] | None:
        """What a voice caller ID is, normalised; None when it is withheld (never raises).

        A telephone number (E.164 or national digits) is a ``phone``; another dial string
        of digits, ``*`` and ``#`` an ``extension``; any other name a ``sip`` user (the
        scheme and URI parameters dropped). Withheld markers (``anonymous``,
        ``Restricted``, empty) and text no identity can hold (control characters, longer
        than 256 characters) are None: an anonymous contact, still recorded.
        """
        if raw is None:
            return None
        text = _without_sip_prefix(raw)
        user = text.split(";", 1)[0].split("@", 1)[0].strip()
        if _SEPARATORS.sub("", user).lower() in WITHHELD:
            return None
        number = self.caller_number(user if "@" in text else text)
        if number is not None:
            return IdentityKind.PHONE, number
        for kind, normalise in (
            (IdentityKind.EXTENSION, normalise_extension),
            (IdentityKind.SIP, normalise_sip),
        ):
            try:
                return kind, normalise(text)
            except InvalidIdentity:
                continue
        return None

    def caller_number(self, raw: str | None) -> str | None:
        """E.164 of a caller ID, or None when it is withheld or not a number (never raises).

        The voice side calls this before writing: an odd caller ID (an internal extension,
        ``Restricted``) must not cost the call its history record, it makes it anonymous.
        """
        if raw is None:
            return None
        try:
            return self.phones.normalise(raw)
        except InvalidIdentity:
            return None

from __future__ import annotations

import logging

import pytest

from history.errors import InvalidIdentity
from history.identities import IdentityKind, IdentityNormaliser, PhoneNormaliser
from history.masking import PersonalDataFilter, mask_email, mask_phone, mask_text

UK = IdentityNormaliser()


@pytest.mark.parametrize(
    "raw",
    [
        "01632 960123",
        "+44 1632 960123",
        "0044 1632 960123",
        "441632960123",
        "(01632) 960-123",
        "tel:+441632960123",
    ],
)
def test_every_way_of_writing_a_uk_number_is_one_e164_number(raw: str) -> None:
    assert UK.normalise("phone", raw) == (IdentityKind.PHONE, "+441632960123")


def test_default_country_code_is_configurable() -> None:
    us = IdentityNormaliser(PhoneNormaliser(default_country_code="1", national_prefix="1"))
    assert us.normalise("phone", "(650) 555-0100")[1] == "+16505550100"
    assert us.normalise("phone", "1 650 555 0100")[1] == "+16505550100"


def test_whatsapp_numbers_are_normalised_like_phones() -> None:
    assert UK.normalise("whatsapp", "whatsapp:+44 7700 900123")[1] == "+447700900123"


@pytest.mark.parametrize("raw", ["anonymous", "", "Restricted", "12ab34", "+12", "1234"])
def test_withheld_or_malformed_numbers_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidIdentity) as refused:
        UK.normalise("phone", raw)
    assert refused.value.reason


def test_caller_number_never_raises_and_withheld_is_none() -> None:
    assert UK.caller_number("anonymous") is None
    assert UK.caller_number(None) is None
    assert UK.caller_number("2001") is None
    assert UK.caller_number("07700900123") == "+447700900123"


def test_email_addresses_are_lower_cased_and_checked() -> None:
    assert UK.normalise("email", "  Jane.Doe@Example.COM ")[1] == "jane.doe@example.com"
    with pytest.raises(InvalidIdentity):
        UK.normalise("email", "not-an-address")


def test_chat_handles_keep_their_case_but_not_surrounding_blanks() -> None:
    assert UK.normalise("chat", " WebUser42 ")[1] == "WebUser42"


def test_unknown_identity_kind_is_refused() -> None:
    with pytest.raises(InvalidIdentity, match="unknown identity kind"):
        UK.normalise("fax", "123")


def test_refusal_messages_do_not_carry_the_full_number() -> None:
    with pytest.raises(InvalidIdentity) as refused:
        UK.normalise("email", "jane.doe@example")
    assert "jane.doe@example" not in str(refused.value)


def test_masks_keep_only_a_hint_of_the_number_and_the_address() -> None:
    assert mask_phone("+441632960123") == "+44******0123"
    assert mask_email("jane.doe@example.com") == "j*******@example.com"
    assert mask_text("caller +441632960123 <jane@example.com> on SIP/agent1001-0000000e") == (
        "caller +44******0123 <j***@example.com> on SIP/agent1001-0000000e"
    )


def test_log_filter_masks_numbers_and_addresses_in_formatted_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.history.masking")
    logger.addFilter(PersonalDataFilter())
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("call from %s, mail %s", "+441632960123", "jane@example.com")
    assert caplog.messages == ["call from +44******0123, mail j***@example.com"]

"""hotline.yaml's ``email:`` section: off by default, refused with the key and the reason when
it cannot work, and turned into the wire edge's settings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from channels.email.settings import (
    EmailSettings,
    password_problems,
    relay_settings,
    sender_identity,
    server_settings,
)

ENABLED: dict[str, Any] = {
    "enabled": True,
    "accepted_recipients": ["support@example.com", "help.example.com"],
    "from_address": "support@example.com",
    "relay": {"host": "smtp.example.com", "username": "hotline", "password_env": "SMTP_PW"},
}


def problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as refused:
        EmailSettings.model_validate(values)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in refused.value.errors()]


def test_e_mail_is_off_by_default_and_an_empty_section_means_the_defaults() -> None:
    assert not EmailSettings().enabled
    assert EmailSettings.model_validate(None) == EmailSettings()


def test_an_enabled_channel_needs_recipients_a_sender_and_a_relay() -> None:
    assert problems({"enabled": True}) == [
        (
            "",
            "Value error, email is enabled but accepted_recipients, from_address, relay.host"
            " is not set",
        )
    ]


def test_bad_values_are_refused_with_their_key() -> None:
    found = problems(
        {
            **ENABLED,
            "accepted_recipients": ["support@@example.com"],
            "from_address": "support",
            "message_id_domain": "not a domain",
            "relay": {"host": "smtp example", "password_env": "hunter2 secret"},
        }
    )
    assert [where for where, _ in found] == [
        "accepted_recipients",
        "from_address",
        "message_id_domain",
        "relay.host",
        "relay.password_env",
    ]
    assert "password_env names the variable that holds the password" in found[-1][1]
    assert "hunter2" not in str(found)  # it may be the password itself: never shown


def test_a_login_needs_both_halves_and_never_goes_in_clear() -> None:
    half = {**ENABLED, "relay": {"host": "smtp.example.com", "username": "hotline"}}
    assert "needs both username and password_env" in problems(half)[0][1]
    clear = {**ENABLED, "relay": {**ENABLED["relay"], "security": "none"}}
    assert "would send the password in clear" in problems(clear)[0][1]


def test_the_section_becomes_the_wire_edge_settings() -> None:
    settings = EmailSettings.model_validate(
        {**ENABLED, "port": 25, "message_id_domain": "Mail.Example.COM",
         "limits": {"max_message_bytes": 10_485_760, "max_recipients": 5},
         "relay": {**ENABLED["relay"], "port": 465, "security": "tls", "attempts": 3}}
    )  # fmt: skip
    server = server_settings(settings)
    assert (server.port, server.max_recipients) == (25, 5)
    assert server.limits.max_message_bytes == 10_485_760
    relay = relay_settings(settings)
    assert (relay.host, relay.port, relay.security, relay.attempts) == (
        "smtp.example.com", 465, "tls", 3,
    )  # fmt: skip
    assert sender_identity(settings).domain == "mail.example.com"


def test_the_relay_password_is_looked_for_only_where_it_is_needed() -> None:
    settings = EmailSettings.model_validate(ENABLED)
    assert password_problems(settings, {}) == [
        "email.relay.password_env: the environment variable SMTP_PW is not set"
    ]
    assert password_problems(settings, {"SMTP_PW": "s3cret"}) == []
    disabled = settings.model_copy(update={"enabled": False})
    assert password_problems(disabled, {}) == []

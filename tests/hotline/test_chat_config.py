"""``chat:`` in hotline.yaml: origins are origins, caps fit the store's, mistakes are located."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.config import ConfigError, load_config

SHIPPED = Path(__file__).resolve().parents[2] / "config"


def hotline_yaml(tmp_path: Path, text: str) -> Path:
    (tmp_path / "hotline.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def issues(directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(directory, environ={})
    return [f"{i.line}: {i.path}: {i.message}" for i in caught.value.issues]


def test_the_shipped_config_enables_the_chat_for_this_site_only() -> None:
    chat = load_config(SHIPPED, environ={}).chat
    assert chat.enabled
    assert chat.allowed_origins == ()
    assert chat.max_message_chars == 4000


def test_chat_is_off_unless_configured(tmp_path: Path) -> None:
    assert not load_config(hotline_yaml(tmp_path, "web: {port: 8080}\n"), environ={}).chat.enabled


def test_origins_are_normalised_as_browsers_send_them(tmp_path: Path) -> None:
    config = load_config(
        hotline_yaml(
            tmp_path,
            "chat:\n  enabled: true\n  allowed_origins:\n"
            "    - https://Shop.Example.com/\n    - https://shop.example.com:443\n"
            "    - http://127.0.0.1:8000\n",
        ),
        environ={},
    )
    assert config.chat.allowed_origins == (
        "https://shop.example.com",
        "https://shop.example.com",
        "http://127.0.0.1:8000",
    )


@pytest.mark.parametrize(
    ("origin", "reason"),
    [
        ("shop.example.com", "is not an origin"),
        ("ftp://shop.example.com", "is not an origin"),
        ("https://shop.example.com/chat", "no path"),
        ("https://user@shop.example.com", "no path, query or user"),
        ("https://shop example.com", "neither an IP address nor a host name"),
        ("https://shop.example.com:99999", "invalid port"),
    ],
)
def test_a_bad_origin_is_refused_at_its_line(tmp_path: Path, origin: str, reason: str) -> None:
    found = issues(hotline_yaml(tmp_path, f"chat:\n  allowed_origins:\n    - {origin}\n"))
    assert len(found) == 1, found
    assert found[0].startswith("3: chat.allowed_origins.0:"), found
    assert reason in found[0]


def test_limits_are_checked(tmp_path: Path) -> None:
    found = issues(
        hotline_yaml(
            tmp_path,
            "chat:\n  max_message_chars: 0\n  rate_limit: {messages_per_minute: 0}\n"
            "  reconnect_grace_s: -1\n",
        )
    )
    assert {f.split(":")[1].strip() for f in found} == {
        "chat.max_message_chars",
        "chat.rate_limit.messages_per_minute",
        "chat.reconnect_grace_s",
    }


def test_a_chat_message_may_not_be_longer_than_the_store_keeps(tmp_path: Path) -> None:
    found = issues(
        hotline_yaml(
            tmp_path, "messages: {max_body_chars: 1000}\nchat: {max_message_chars: 2000}\n"
        )
    )
    assert any("must not exceed messages.max_body_chars (1000)" in f for f in found), found

"""The ``webhooks:`` section of hotline.yaml: refused with file, line and reason when wrong;
its secrets read from the environment and never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.webhooks.settings import MissingSecret, secret_problems, subscriptions
from hotline.cli import main
from hotline.config import ConfigError, ConfigIssue, load_config

SECRET = "s3cr3t-value-that-must-not-leak"
GOOD = """\
webhooks:
  - name: crm
    url: https://crm.example.com/hooks?token=abc
    secret_env: CRM_SECRET
    events: [task.*, conversation.resolved]
    max_attempts: 5
    timeout_s: 3
"""


def config_dir(tmp_path: Path, text: str) -> Path:
    (tmp_path / "hotline.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def issues(tmp_path: Path, text: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir(tmp_path, text), environ={})
    return list(caught.value.issues)


def with_hook(**changes: str) -> str:
    lines = {
        "name": "crm",
        "url": "https://crm.example.com/hooks",
        "secret_env": "CRM_SECRET",
        "events": "[task.*]",
        **changes,
    }
    body = "\n".join(f"    {key}: {value}" for key, value in lines.items())
    return "webhooks:\n  - " + body.lstrip() + "\n"


def test_a_webhook_is_read_into_frozen_settings(tmp_path: Path) -> None:
    [hook] = load_config(config_dir(tmp_path, GOOD), environ={}).webhooks

    assert (hook.name, hook.events, hook.max_attempts, hook.timeout_s) == (
        "crm",
        ("task.*", "conversation.resolved"),
        5,
        3.0,
    )
    assert hook.limits.backoff.initial_s == 1.0
    assert "token" not in repr(hook)


def test_no_webhooks_by_default_and_an_empty_section_means_none(tmp_path: Path) -> None:
    assert load_config(config_dir(tmp_path, "web:\n  port: 8080\n"), environ={}).webhooks == ()
    assert load_config(config_dir(tmp_path, "webhooks:\n"), environ={}).webhooks == ()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://crm.example.com/hooks", "use https:// for crm.example.com"),
        ("ftp://crm.example.com/hooks", "not an http(s) URL"),
        ("https:///hooks", "not an http(s) URL"),
        ("https://user:pw@crm.example.com/hooks", "credentials in the URL"),
        ("https://crm.example.com:99999/hooks", "not a URL"),
        ("https://crm.example.com/hooks#part", "fragment"),
    ],
)
def test_a_bad_url_is_refused_with_the_reason_on_its_line(
    tmp_path: Path, url: str, reason: str
) -> None:
    [issue] = issues(tmp_path, with_hook(url=url))

    assert (issue.line, issue.path) == (3, "webhooks.0.url")
    assert reason in issue.message
    assert "pw" not in issue.message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8081/hooks",
        "http://127.1.2.3/hooks",
        "http://localhost:8081/hooks",
        "http://[::1]:8081/hooks",
        "https://crm.example.com/hooks",
    ],
)
def test_plain_http_is_allowed_only_on_this_machine(tmp_path: Path, url: str) -> None:
    [hook] = load_config(config_dir(tmp_path, with_hook(url=url)), environ={}).webhooks

    assert hook.url == url


@pytest.mark.parametrize(
    ("changes", "path", "reason"),
    [
        ({"events": "[tasks.*]"}, "webhooks.0.events.0", "selects no event type"),
        ({"events": "[]"}, "webhooks.0.events", "at least one event type"),
        ({"name": "CRM system"}, "webhooks.0.name", "not a webhook name"),
        ({"secret_env": SECRET}, "webhooks.0.secret_env", "not an environment variable"),
        ({"max_attempts": "0"}, "webhooks.0.max_attempts", "greater than or equal to 1"),
        ({"timeout_s": "0"}, "webhooks.0.timeout_s", "greater than 0"),
        ({"retries": "3"}, "webhooks.0.retries", "unknown key 'retries'"),
    ],
)
def test_other_mistakes_are_refused_where_they_are(
    tmp_path: Path, changes: dict[str, str], path: str, reason: str
) -> None:
    [issue] = issues(tmp_path, with_hook(**changes))

    assert issue.path == path
    assert reason in issue.message


def test_two_webhooks_with_one_name_are_refused(tmp_path: Path) -> None:
    hook = with_hook().removeprefix("webhooks:\n")
    [issue] = issues(tmp_path, "webhooks:\n" + hook + hook)

    assert "'crm' is used twice" in issue.message


def test_subscriptions_take_their_secrets_from_the_environment(tmp_path: Path) -> None:
    hooks = load_config(config_dir(tmp_path, GOOD), environ={}).webhooks

    [crm] = subscriptions(hooks, {"CRM_SECRET": f"{SECRET} older-secret-0123456789"})

    assert crm.secrets == (SECRET.encode(), b"older-secret-0123456789")
    assert crm.wants("task.assigned")
    assert not crm.wants("message.created")
    assert crm.limits.max_attempts == 5
    assert SECRET not in repr(crm)
    assert "token" not in repr(crm)


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({}, "$CRM_SECRET is not set"),
        ({"CRM_SECRET": " "}, "$CRM_SECRET is not set"),
        ({"CRM_SECRET": "short"}, "shorter than 16 characters"),
    ],
)
def test_a_missing_or_weak_secret_is_named_by_its_variable_only(
    tmp_path: Path, environ: dict[str, str], problem: str
) -> None:
    hooks = load_config(config_dir(tmp_path, GOOD), environ={}).webhooks

    [found] = secret_problems(hooks, environ)
    with pytest.raises(MissingSecret) as caught:
        subscriptions(hooks, environ)

    assert problem in found
    assert problem in str(caught.value)
    assert "short" not in found.replace("shorter", "")


def test_check_config_reports_a_webhook_secret_missing_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = config_dir(tmp_path, GOOD)
    monkeypatch.delenv("CRM_SECRET", raising=False)

    assert main(["check-config", "--config", str(directory)]) == 1
    assert "webhook 'crm': $CRM_SECRET is not set" in capsys.readouterr().err

    monkeypatch.setenv("CRM_SECRET", SECRET)
    assert main(["check-config", "--config", str(directory)]) == 0
    out, err = capsys.readouterr()
    assert "config OK" in out
    assert SECRET not in out + err

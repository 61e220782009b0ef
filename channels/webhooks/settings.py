"""The ``webhooks:`` section of ``hotline.yaml``: who receives which events, and how hard
hotline tries. Validated into frozen objects; ``subscriptions`` turns them into the
dispatcher's ``Subscription`` objects with their secrets read from the environment.

.. code-block:: yaml

    webhooks:
      - name: crm                      # a-z 0-9 _ . - ; recorded with every delivery
        url: https://crm.example.com/hooks/hotline
        secret_env: HOTLINE_WEBHOOK_CRM_SECRET   # the secret is read from there, never here
        events: [task.*, conversation.resolved]
        max_attempts: 12
        timeout_s: 10

The secret never appears in the file, in logs, in reprs or in error messages: only the name
of the variable that holds it. While a secret is rotated the variable holds both, newest
first, separated by a space; each request then carries one signature per secret.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from channels.webhooks.events import pattern_problem, selects
from channels.webhooks.policy import Backoff, Limits
from channels.webhooks.signing import MAX_SIGNATURES, secrets_from

__all__ = [
    "MIN_SECRET_CHARS",
    "MissingSecret",
    "Subscription",
    "WebhookSettings",
    "Webhooks",
    "secret_problems",
    "subscriptions",
]

#: Shorter secrets are refused: a guessable key signs anything.
MIN_SECRET_CHARS = 16

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a webhook name (a-z 0-9 _ . -, up to 64)")
    return value


def _variable(value: str) -> str:
    if not _VARIABLE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an environment variable name (A-Z 0-9 _): "
            "secret_env names the variable that holds the secret, not the secret"
        )
    return value


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(value: str) -> str:
    # The URL is not echoed: its query may carry a receiver's token.
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError("not a URL (https://host/path)") from None
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError("not an http(s) URL with a host (https://host/path)")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "credentials in the URL would be shown and logged; receivers check the signature"
        )
    if parts.fragment:
        raise ValueError("a URL fragment (#…) is never sent; remove it")
    if parts.scheme == "http" and not _loopback(host):
        raise ValueError(f"http:// is allowed only for loopback receivers; use https:// for {host}")
    if port == 0:
        raise ValueError("port 0 is not a receiver's port")
    return value


def _pattern(value: str) -> str:
    problem = pattern_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _some(patterns: tuple[str, ...]) -> tuple[str, ...]:
    if not patterns:
        raise ValueError("give at least one event type or pattern ('task.*'; '*' for all)")
    return patterns


EventPattern = Annotated[str, AfterValidator(_pattern)]


class WebhookSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, AfterValidator(_name)]
    url: Annotated[str, AfterValidator(_url)]
    secret_env: Annotated[str, AfterValidator(_variable)]
    events: Annotated[tuple[EventPattern, ...], AfterValidator(_some)]
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 12
    #: From the event to the last attempt; a week at most.
    max_age_s: Annotated[float, Field(gt=0, le=7 * 86400)] = 86400.0
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    backoff_initial_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    backoff_max_s: Annotated[float, Field(gt=0, le=86400)] = 3600.0

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        """The URL's query may hold a receiver's token: reprs show the host only."""
        return [("name", self.name), ("host", urlsplit(self.url).hostname), ("events", self.events)]

    @model_validator(mode="after")
    def _backoff_grows(self) -> WebhookSettings:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must not be smaller than backoff_initial_s")
        return self

    @property
    def limits(self) -> Limits:
        backoff = Backoff(initial_s=self.backoff_initial_s, max_s=self.backoff_max_s)
        return Limits(self.max_attempts, self.max_age_s, backoff)


def _none_is_empty(value: object) -> object:
    """``webhooks:`` with every entry commented out is YAML null: no webhooks."""
    return () if value is None else value


def _unique(hooks: tuple[WebhookSettings, ...]) -> tuple[WebhookSettings, ...]:
    seen: set[str] = set()
    for hook in hooks:
        if hook.name in seen:
            raise ValueError(f"webhook name {hook.name!r} is used twice")
        seen.add(hook.name)
    return hooks


#: ``ServiceSettings.webhooks``.
Webhooks = Annotated[
    tuple[WebhookSettings, ...], BeforeValidator(_none_is_empty), AfterValidator(_unique)
]


class MissingSecret(ValueError):
    """A webhook whose secret is not in the environment (the message names the variable)."""


@dataclass(frozen=True)
class Subscription:
    """A receiver as the dispatcher uses it: its secrets are held, never shown."""

    name: str
    #: Not in reprs: its query may carry a receiver's token.
    url: str = field(repr=False)
    secrets: tuple[bytes, ...] = field(repr=False)
    events: tuple[str, ...]
    limits: Limits = field(default_factory=Limits)
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.secrets:
            raise MissingSecret(f"webhook {self.name!r} has no secret")

    def wants(self, event_type: str) -> bool:
        return selects(self.events, event_type)


def secret_problems(hooks: Sequence[WebhookSettings], environ: Mapping[str, str]) -> list[str]:
    """What is wrong with the webhooks' secrets in ``environ`` (never saying a secret)."""
    problems = []
    for hook in hooks:
        where = f"webhook {hook.name!r}: ${hook.secret_env}"
        secrets = secrets_from(environ.get(hook.secret_env, ""))
        if not secrets:
            problems.append(f"{where} is not set: its events cannot be signed")
        elif len(secrets) > MAX_SIGNATURES:
            problems.append(f"{where} holds more than {MAX_SIGNATURES} secrets")
        elif any(len(secret) < MIN_SECRET_CHARS for secret in secrets):
            problems.append(f"{where} holds a secret shorter than {MIN_SECRET_CHARS} characters")
    return problems


def subscriptions(
    hooks: Sequence[WebhookSettings], environ: Mapping[str, str]
) -> tuple[Subscription, ...]:
    """The dispatcher's subscriptions; raises ``MissingSecret`` naming every problem."""
    problems = secret_problems(hooks, environ)
    if problems:
        raise MissingSecret("; ".join(problems))
    return tuple(
        Subscription(
            name=hook.name,
            url=hook.url,
            secrets=secrets_from(environ[hook.secret_env]),
            events=hook.events,
            limits=hook.limits,
            timeout_s=hook.timeout_s,
        )
        for hook in hooks
    )

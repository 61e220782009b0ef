"""Build the sign-in machinery for the service from its store and environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.web.auth.guard import WebAuth
from hotline.web.auth.secret_box import DEFAULT_KEY_FILE, SecretBox
from hotline.web.auth.sessions import SessionStore
from hotline.web.auth.throttle import LoginThrottle
from hotline.web.auth.two_factor import TwoFactorPolicy
from hotline.web.auth.users import UserStore

#: Set to 1/true/yes when the pages are served over https (directly or behind a proxy):
#: session cookies then carry ``Secure`` and are never sent in clear.
SECURE_COOKIES_VARIABLE = "HOTLINE_WEB_SECURE_COOKIES"
#: Minutes without a request after which a session has expired (default 480).
SESSION_IDLE_VARIABLE = "HOTLINE_WEB_SESSION_IDLE_MIN"


def build_web_auth(
    engine: AsyncEngine,
    environ: Mapping[str, str] | None = None,
    *,
    throttle: LoginThrottle | None = None,
    two_factor: TwoFactorPolicy | None = None,
    https: bool = False,
    key_file: Path = DEFAULT_KEY_FILE,
) -> WebAuth:
    """``https``: the server itself speaks TLS (``web.tls``), so cookies are ``Secure``.
    ``key_file``: the key TOTP secrets are sealed with, unless ``HOTLINE_SECRET_KEYS``
    gives the keys (``secret_box``); created on first use."""
    env = os.environ if environ is None else environ
    secure = https or env.get(SECURE_COOKIES_VARIABLE, "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }
    try:
        idle_min = float(env.get(SESSION_IDLE_VARIABLE, "") or 480)
    except ValueError:
        idle_min = 480.0
    return WebAuth(
        users=UserStore(engine, secret_box=SecretBox.load(key_file, env)),
        sessions=SessionStore(idle_s=max(1.0, idle_min) * 60),
        throttle=throttle or LoginThrottle(),
        secure_cookies=secure,
        two_factor=two_factor or TwoFactorPolicy(),
    )

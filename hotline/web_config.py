"""The web server's defences, from ``hotline.yaml``'s ``web:`` section (SECURITY.md): the
guard's limits, the sign-in throttle, the API's rate limits, and the descriptor headroom
the process needs for its calls and web clients."""

from __future__ import annotations

import logging
import ssl

from hotline.config import Config
from hotline.descriptors import check_headroom, raise_open_file_limit
from hotline.tls import client_context, server_context
from hotline.web.api.context import ApiSettings
from hotline.web.api.rate_limit import RateLimits
from hotline.web.auth.throttle import LoginThrottle
from hotline.web.auth.two_factor import TwoFactorPolicy
from hotline.web.connections import WebLimits

log = logging.getLogger(__name__)


def web_limits(config: Config) -> WebLimits:
    limits = config.web.limits
    return WebLimits(
        header_timeout_s=limits.header_timeout_s,
        body_timeout_s=limits.body_timeout_s,
        max_connections=limits.max_connections,
        max_connections_per_address=limits.max_connections_per_address,
        descriptor_reserve=limits.descriptor_reserve,
    )


def api_settings(config: Config) -> ApiSettings:
    limits = config.web.api_rate_limits
    spool = config.database.spool
    return ApiSettings(
        token_snapshot=spool.with_name(spool.name + ".tokens"),
        rate_limits=RateLimits(
            per_token_per_s=limits.per_token_per_s,
            per_token_burst=limits.per_token_burst,
            per_address_per_s=limits.per_address_per_s,
            per_address_burst=limits.per_address_burst,
        ),
    )


def login_throttle(config: Config) -> LoginThrottle:
    sign_in = config.web.sign_in
    return LoginThrottle(
        per_user_address=sign_in.per_user_address,
        per_address=sign_in.per_address,
        per_user_codes=sign_in.per_user_codes,
        window_s=sign_in.window_s,
    )


def two_factor_policy(config: Config) -> TwoFactorPolicy:
    settings = config.web.sign_in.two_factor
    return TwoFactorPolicy(required_for=frozenset(settings.required_for), issuer=settings.issuer)


def descriptor_headroom(config: Config) -> None:
    """Raise the open-file limit to the hard limit; say so if the config cannot fit."""
    raise_open_file_limit()
    limits = config.web.limits
    needed = config.fastagi.limits.max_sessions + limits.max_connections
    problem = check_headroom(needed + limits.descriptor_reserve)
    if problem is not None:
        log.warning("%s", problem)


def web_tls(config: Config) -> ssl.SSLContext | None:
    """The HTTPS context when ``web.tls`` names a certificate and key (checked by
    ``check-config``: an unusable file refuses the config before the service starts)."""
    tls = config.web.tls
    if tls.cert_file is None or tls.key_file is None:
        return None
    return server_context(tls.cert_file, tls.key_file, min_version=tls.min_version)


def ami_tls(config: Config) -> ssl.SSLContext | None:
    tls = config.ami.tls
    if not tls.enabled:
        return None
    if not tls.verify:
        log.warning("AMI over TLS without verifying Asterisk's certificate (ami.tls.verify)")
    return client_context(ca_file=tls.ca_file, verify=tls.verify, min_version=tls.min_version)

"""``hotline token create|list|revoke``: the HTTP API's bearer tokens, for an admin's shell.

``create`` prints the secret once, alone on stdout (``TOKEN=$(hotline token create ...)``);
the store keeps only its hash, so a lost token is revoked and replaced, never recovered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine

from history.store import create_engine, migrate
from hotline.cli import CONFIG_DIR_VARIABLE, DEFAULT_CONFIG_DIR
from hotline.config import ConfigError, load_config
from hotline.web.tokens import ApiToken, Scope, TokenError, TokenStore


def store_options(parser: argparse.ArgumentParser) -> None:
    """``--config DIR``, defaulting like ``hotline serve``: an admin's shell finds its store."""
    default = os.environ.get(CONFIG_DIR_VARIABLE) or DEFAULT_CONFIG_DIR
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        metavar="DIR",
        help=f"where database.url is read (default: ${CONFIG_DIR_VARIABLE} or ./config)",
    )


def with_store(args: argparse.Namespace, work: Callable[[AsyncEngine], Awaitable[int]]) -> int:
    """Run ``work`` on the configured store (migrated first); 1 when it cannot be opened."""
    try:
        url = load_config(args.config).database.url
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return 1

    async def run() -> int:
        engine = create_engine(url)
        try:
            await migrate(engine)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (OSError, exc.SQLAlchemyError) as error:
        reason = str(error).splitlines()[0]
        print(f"hotline: the history store is unavailable: {reason}", file=sys.stderr)
        return 1


def register(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="create, list and revoke HTTP API tokens")
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create a token and print it (only this once)")
    create.add_argument("name", help="who uses it, e.g. chat (a-z 0-9 _ . -)")
    create.add_argument(
        "--scope",
        nargs="+",
        action="extend",
        required=True,
        choices=[s.value for s in Scope],
        metavar="SCOPE",
        dest="scopes",
        help="what it may do: " + ", ".join(s.value for s in Scope),
    )
    create.add_argument(
        "--source",
        help="the source its writes are recorded as (default: the name; give the old "
        "token's source when rotating, so its idempotency keys stay valid)",
    )
    store_options(create)
    create.set_defaults(run=_create)

    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    store_options(listing)
    listing.set_defaults(run=_list)

    revoke = actions.add_parser("revoke", help="revoke a token (the API refuses it within 30 s)")
    revoke.add_argument("name")
    store_options(revoke)
    revoke.set_defaults(run=_revoke)


def _create(args: argparse.Namespace) -> int:
    async def work(engine: AsyncEngine) -> int:
        try:
            token, secret = await TokenStore(engine).create(
                args.name, args.scopes, source=args.source
            )
        except TokenError as error:
            print(f"hotline token create: {error}", file=sys.stderr)
            return 1
        print(secret)
        scopes = ", ".join(sorted(s.value for s in token.scopes))
        print(
            f"token {token.name!r} created (source {token.source!r}; scopes {scopes}). "
            "Store it now: it is not shown again.",
            file=sys.stderr,
        )
        return 0

    return with_store(args, work)


def _when(moment: object) -> str:
    return "-" if moment is None else str(moment)[:19]


def _row(token: ApiToken) -> list[str]:
    return [
        token.name,
        token.source,
        ",".join(sorted(s.value for s in token.scopes)),
        _when(token.created_at),
        _when(token.last_used_at),
        _when(token.revoked_at),
    ]


def _list(args: argparse.Namespace) -> int:
    async def work(engine: AsyncEngine) -> int:
        tokens = await TokenStore(engine).list()
        rows = [["NAME", "SOURCE", "SCOPES", "CREATED", "LAST USED", "REVOKED"]]
        rows += [_row(t) for t in tokens]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        return 0

    return with_store(args, work)


def _revoke(args: argparse.Namespace) -> int:
    async def work(engine: AsyncEngine) -> int:
        try:
            token = await TokenStore(engine).revoke(args.name)
        except TokenError as error:
            print(f"hotline token revoke: {error}", file=sys.stderr)
            return 1
        print(f"token {token.name!r} revoked at {_when(token.revoked_at)}")
        return 0

    return with_store(args, work)

"""``hotline user add NAME --role ROLE`` and ``user list``: who may sign in to the web pages.

The password is read from stdin (one line), never from the command line, where it would sit
in shell history and in ``ps``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.tokens_cli import store_options, with_store


def register(subparsers: Any) -> None:
    user = subparsers.add_parser(
        "user", help="add and list web users (agents, supervisors, admins)"
    )
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user; the password is read from stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["agent", "supervisor", "admin"])
    add.add_argument("--agent", metavar="ID", help="the ACD agent id (agents: default NAME)")
    add.add_argument(
        "--endpoint", metavar="TECH/RES", help="a supervisor's phone for listen/whisper/barge"
    )
    store_options(add)
    add.set_defaults(run=_add)
    listing = actions.add_parser("list", help="list users and their roles")
    store_options(listing)
    listing.set_defaults(run=_list)


def _add(args: argparse.Namespace) -> int:
    from hotline.web.auth.users import Role, UserError, UserStore

    if sys.stdin.isatty():
        print("password: ", end="", file=sys.stderr, flush=True)
    password = sys.stdin.readline().rstrip("\r\n")

    async def work(engine: AsyncEngine) -> int:
        try:
            user = await UserStore(engine).add(
                args.name, Role(args.role), password, agent_id=args.agent, endpoint=args.endpoint
            )
        except UserError as error:
            print(f"hotline: {error}", file=sys.stderr)
            return 1
        print(f"added {user.name} ({user.role})")
        return 0

    return with_store(args, work)


def _list(args: argparse.Namespace) -> int:
    from hotline.web.auth.users import UserStore

    async def work(engine: AsyncEngine) -> int:
        for user in await UserStore(engine).list():
            agent = f" agent {user.agent_id}" if user.agent_id else ""
            print(f"{user.name}\t{user.role}{agent}")
        return 0

    return with_store(args, work)

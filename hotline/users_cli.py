"""``hotline user add NAME --role ROLE``, ``user list``, ``user reset-2fa NAME`` and
``user remove NAME``: who may sign in to the web pages.

``reset-2fa`` erases a user's two-factor secret and recovery codes (a lost phone); ``remove``
deletes the user with them. Both are recorded in the audit log, as ``cli:`` and the shell's
user name.

The password is read from stdin (one line), never from the command line, where it would sit
in shell history and in ``ps``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.tokens_cli import store_options, with_store


def register(subparsers: Any) -> None:
    user = subparsers.add_parser(
        "user", help="add and list web users (agents, supervisors, admins, wall screens)"
    )
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user; the password is read from stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["agent", "supervisor", "admin", "wallboard"])
    add.add_argument("--agent", metavar="ID", help="the ACD agent id (agents: default NAME)")
    add.add_argument(
        "--endpoint", metavar="TECH/RES", help="a supervisor's phone for listen/whisper/barge"
    )
    store_options(add)
    add.set_defaults(run=_add)
    listing = actions.add_parser("list", help="list users and their roles")
    store_options(listing)
    listing.set_defaults(run=_list)
    reset = actions.add_parser(
        "reset-2fa", help="turn a user's two-factor sign-in off (secret and recovery codes erased)"
    )
    reset.add_argument("name")
    store_options(reset)
    reset.set_defaults(run=_reset_two_factor)
    remove = actions.add_parser("remove", help="delete a user (and their two-factor secret)")
    remove.add_argument("name")
    store_options(remove)
    remove.set_defaults(run=_remove)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _reset_two_factor(args: argparse.Namespace) -> int:
    from history.audit import AuditLog
    from hotline.web.auth.users import UserStore

    async def work(engine: AsyncEngine) -> int:
        if not await UserStore(engine).two_factor.reset(args.name):
            print(f"hotline: {args.name} has no two-factor sign-in", file=sys.stderr)
            return 1
        await AuditLog(engine).append(
            actor=_actor(),
            target=f"user:{args.name}",
            action="2fa-reset",
            summary=f"two-factor sign-in of {args.name} reset",
        )
        print(f"two-factor sign-in of {args.name} reset")
        return 0

    return with_store(args, work)


def _remove(args: argparse.Namespace) -> int:
    from history.audit import AuditLog
    from hotline.web.auth.users import UserStore

    async def work(engine: AsyncEngine) -> int:
        if not await UserStore(engine).remove(args.name):
            print(f"hotline: no user named {args.name!r}", file=sys.stderr)
            return 1
        await AuditLog(engine).append(
            actor=_actor(), target=f"user:{args.name}", action="remove", summary="user removed"
        )
        print(f"removed {args.name}")
        return 0

    return with_store(args, work)


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
            two_factor = " 2fa" if user.two_factor else ""
            print(f"{user.name}\t{user.role}{agent}{two_factor}")
        return 0

    return with_store(args, work)

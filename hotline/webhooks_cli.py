"""``hotline webhooks dead|retry|attempts``: the webhook dead letters, for an admin's shell.

``retry`` makes a dead letter pending again in the store, with a fresh round of attempts;
a running service picks it up at its next read of the store (``rescan_s``, 30 s), a
stopped one at start.
"""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from history.context import utc_now
from history.webhooks import SqlDeliveryStore
from hotline.tokens_cli import store_options, with_store

DEFAULT_LIMIT = 50


def register(subparsers: Any) -> None:
    hooks = subparsers.add_parser("webhooks", help="list and re-queue webhook dead letters")
    actions = hooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")

    dead = actions.add_parser("dead", help="list dead letters, newest first")
    dead.add_argument("--subscription", metavar="NAME", help="only this webhook's")
    dead.add_argument("--limit", type=_positive_int, default=DEFAULT_LIMIT, metavar="N")
    store_options(dead)
    dead.set_defaults(run=lambda args: with_store(args, lambda e: _dead(e, args)))

    retry = actions.add_parser("retry", help="re-queue dead letters with fresh attempts")
    retry.add_argument("ids", nargs="+", type=_positive_int, metavar="ID")
    store_options(retry)
    retry.set_defaults(run=lambda args: with_store(args, lambda e: _retry(e, args.ids)))

    attempts = actions.add_parser("attempts", help="every attempt of one delivery")
    attempts.add_argument("id", type=_positive_int, metavar="ID")
    store_options(attempts)
    attempts.set_defaults(run=lambda args: with_store(args, lambda e: _attempts(e, args.id)))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text!r}")
    return value


async def _dead(engine: AsyncEngine, args: argparse.Namespace) -> int:
    rows = await SqlDeliveryStore(engine).dead(args.subscription, limit=args.limit)
    if not rows:
        print("no dead letters")
        return 0
    print(f"{'ID':>8}  {'WEBHOOK':<16} {'EVENT TYPE':<22} {'TRIES':>5}  {'DEAD SINCE':<20} REASON")
    for row in rows:
        since = row.finished_at.strftime("%Y-%m-%d %H:%M:%SZ") if row.finished_at else "-"
        print(
            f"{row.id:>8}  {row.subscription:<16} {row.event_type:<22} {row.attempts:>5}  "
            f"{since:<20} {row.last_result or ''}"
        )
    return 0


async def _retry(engine: AsyncEngine, ids: list[int]) -> int:
    store = SqlDeliveryStore(engine)
    failed = 0
    for delivery_id in ids:
        row = await store.requeue(delivery_id, utc_now())
        if row is None:
            print(f"{delivery_id}: not a dead letter (or its body was erased)")
            failed += 1
        else:
            print(f"{delivery_id}: re-queued for {row.subscription}")
    return 1 if failed else 0


async def _attempts(engine: AsyncEngine, delivery_id: int) -> int:
    store = SqlDeliveryStore(engine)
    row = await store.get(delivery_id)
    if row is None:
        print(f"{delivery_id}: no such delivery")
        return 1
    print(
        f"delivery {row.id}: event {row.event_id} ({row.event_type}) to {row.subscription}, "
        f"{row.status}" + (f": {row.last_result}" if row.last_result else "")
    )
    for attempt in await store.attempts(delivery_id):
        answer = f"HTTP {attempt.status_code}" if attempt.status_code else attempt.error
        print(
            f"  #{attempt.number}  {attempt.at.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}Z"
            f"  {attempt.duration_ms:8.1f} ms  {answer}"
        )
    return 0

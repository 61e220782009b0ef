"""``hotline reports send-daily --date YYYY-MM-DD [--preview] [--to ADDRESS...]``: the daily
report of a day, sent now through the e-mail relay (``email.relay``, From
``email.from_address``) to ``reports.daily.recipients`` (or ``--to``), or with ``--preview``
printed (its text part and its CSV) and not sent. The figures are the reports page's: the
event log and the history of ``database.url``."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.config import ConfigError, load_config
from hotline.tokens_cli import store_options, with_store


def register(subparsers: Any) -> None:
    reports = subparsers.add_parser("reports", help="historical reports")
    actions = reports.add_subparsers(dest="reports_command", required=True, metavar="ACTION")
    daily = actions.add_parser(
        "send-daily", help="send (or --preview) the daily report of a day by e-mail"
    )
    daily.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="the day (default: yesterday)",
    )
    daily.add_argument("--preview", action="store_true", help="print it, do not send it")
    daily.add_argument(
        "--to", nargs="+", metavar="ADDRESS", help="instead of reports.daily.recipients"
    )
    store_options(daily)
    daily.set_defaults(run=_send_daily)


def _send_daily(args: argparse.Namespace) -> int:
    from acd.build import build_acd
    from acd.capacity import VOICE_ONLY, Capacity
    from channels.email.sender import ReplyRefused, ReplySender, SendFailed
    from channels.email.settings import relay_settings, sender_identity
    from history.repository import HistoryRepository
    from hotline.reports.daily import compose_daily, daily_report
    from hotline.reports.figures import ReportFigures
    from hotline.reports.table import csv_text

    try:
        config = load_config(args.config)
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return 1
    settings = config.reports.daily
    recipients = tuple(args.to or settings.recipients)
    day = args.date or datetime.now().astimezone().date() - timedelta(days=1)
    if not args.preview and not recipients:
        print("hotline: no recipients (reports.daily.recipients, or --to)", file=sys.stderr)
        return 1
    setup = build_acd(config.priority, config.queues, config.agents, config.skills)

    capacities = {a.agent_id: a.capacity for a in setup.agents}

    def capacity(agent_id: str) -> Capacity:
        return capacities.get(agent_id, VOICE_ONLY)

    async def work(engine: AsyncEngine) -> int:
        figures = ReportFigures(
            engine, HistoryRepository(engine), policy=lambda: setup.sl_policy, capacity=capacity
        )
        report = await daily_report(figures, settings, day)
        message = compose_daily(report, recipients or ("preview@invalid.example",), day)
        if args.preview:
            body = message.get_body(("plain",))
            print(body.get_content() if body is not None else "")
            print(csv_text(report), end="")
            return 0
        try:
            sender = ReplySender(
                relay_settings(config.email), sender_identity(config.email), environ=os.environ
            )
            sent = await sender.send_message(message)
        except (ValueError, ReplyRefused, SendFailed) as error:
            print(f"hotline: the daily report was not sent: {error}", file=sys.stderr)
            return 1
        print(f"daily report of {day} sent to {', '.join(recipients)} ({sent.message_id})")
        return 0

    return with_store(args, work)

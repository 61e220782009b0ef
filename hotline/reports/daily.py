"""The daily report by e-mail: yesterday's figures by queue, as text and HTML, with the CSV
of the same table attached, sent through the e-mail relay (``channels.email.sender``) at the
configured time (``hotline.yaml`` ``reports.daily``), and on demand by
``hotline reports send-daily --date YYYY-MM-DD``.

``DailyReports.run`` sleeps until the next ``time`` in the report's time zone, sends the day
before it, and sleeps again; a send that fails (the relay down after its retries, the store
unreadable) is logged and the next day goes on. A service that was down at that time does
not send late: the CLI sends a missed day.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta, tzinfo
from email.message import EmailMessage

from channels.email.sender import ReplySender, SentReply
from hotline.reports.figures import Report, ReportFigures, ReportRequest
from hotline.reports.settings import DailyReportSettings, zone
from hotline.reports.table import COLUMNS, csv_text, table

log = logging.getLogger(__name__)

__all__ = ["DailyReports", "compose_daily", "daily_report", "next_run"]


async def daily_report(figures: ReportFigures, settings: DailyReportSettings, day: date) -> Report:
    """``day``'s report by queue, with only ``settings.queues`` (and the centre's row)."""
    report = await figures.report(ReportRequest(day, day, "day", "queue"), zone(settings))
    if settings.queues:
        keep = set(settings.queues)
        report = replace(
            report,
            rows=[
                (row, quality)
                for row, quality in report.rows
                if row.grouping != "queue" or row.key in keep
            ],
        )
    return report


def compose_daily(report: Report, recipients: tuple[str, ...], day: date) -> EmailMessage:
    """The message: a text part, an HTML part, and the table as a CSV file."""
    rows = table(report)
    titles = [title for _, title, _ in COLUMNS]
    message = EmailMessage()
    message["To"] = ", ".join(recipients)
    message["Subject"] = f"hotline daily report {day.isoformat()}"
    lines = [f"hotline: the figures of {day.isoformat()} ({report.tz}), by queue.", ""]
    for row in rows:
        name = "every channel" if row["total"] else f"queue {row['group']}"
        lines.append(name)
        for title, cell in zip(titles[2:], row["cells"][2:], strict=True):
            lines.append(f"  {title}: {cell or '-'}")
        lines.append("")
    lines.append("The same table is attached as CSV.")
    message.set_content("\n".join(lines) + "\n")
    head = "".join(f"<th>{html.escape(t)}</th>" for t in titles)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row["cells"]) + "</tr>"
        for row in rows
    )
    message.add_alternative(
        "<!doctype html><html><body>"
        f"<h1>hotline daily report {html.escape(day.isoformat())}</h1>"
        f'<table border="1" cellpadding="4" cellspacing="0"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></body></html>",
        subtype="html",
    )
    message.add_attachment(
        csv_text(report).encode("utf-8"),
        "text",
        "csv",
        filename=f"hotline-daily-{day.isoformat()}.csv",
    )
    return message


def next_run(now: datetime, settings: DailyReportSettings) -> datetime:
    """The next time the report is due after ``now`` (aware), in the report's zone."""
    tz: tzinfo | None = zone(settings) or now.astimezone().tzinfo
    local = now.astimezone(tz)
    due = datetime.combine(local.date(), settings.at, tz)
    return (
        due if due > local else datetime.combine(local.date() + timedelta(days=1), settings.at, tz)
    )


class DailyReports:
    """Sends the previous day's report each day at the configured time."""

    def __init__(
        self,
        figures: ReportFigures,
        sender: ReplySender,
        settings: DailyReportSettings,
        *,
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
    ) -> None:
        self._figures = figures
        self._sender = sender
        self.settings = settings
        self._now = now
        self.sent: list[tuple[date, SentReply]] = []

    async def send(self, day: date) -> SentReply:
        report = await daily_report(self._figures, self.settings, day)
        message = compose_daily(report, self.settings.recipients, day)
        sent = await self._sender.send_message(message)
        self.sent.append((day, sent))
        log.info("daily report of %s sent to %d recipient(s)", day, len(self.settings.recipients))
        return sent

    async def run(self) -> None:
        """Until cancelled: at each due time, the day before it."""
        while True:
            due = next_run(self._now(), self.settings)
            await asyncio.sleep(max(0.0, (due - self._now()).total_seconds()))
            try:
                await self.send(due.date() - timedelta(days=1))
            except Exception as error:  # noqa: BLE001 (the relay or the store: try tomorrow)
                log.error("daily report of %s not sent: %s", due.date() - timedelta(days=1), error)

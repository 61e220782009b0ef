"""The daily report by e-mail: at its time the previous day's figures by queue reach a local
aiosmtpd sink playing the relay, as text, HTML and the CSV of the reports page's table, with
the day's numbers; the config refuses a daily report with no relay or no recipient; the CLI
previews a day."""

from __future__ import annotations

import asyncio
import csv
import email
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.kpi import SlPolicy
from channels.email.sender import RelaySettings, ReplySender, SentReply
from history.repository import HistoryRepository
from history.store import create_engine, migrate
from hotline.cli import main
from hotline.config_models import ServiceSettings
from hotline.reports.daily import DailyReports, daily_report, next_run
from hotline.reports.figures import ReportFigures
from hotline.reports.settings import DailyReportSettings
from hotline.reports.table import COLUMNS
from tests.channels.email.test_sender import IDENTITY, Sink, start_sink
from tests.web.test_supervisor_kpi_restart import NINE_O_FIVE, first_run

DAY = NINE_O_FIVE.date()


@pytest.fixture
async def logged_day(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """09:05-09:40 of ``DAY`` in the event log: 35 calls (7 abandoned), 9 chats, an e-mail."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/hotline.db")
    await migrate(engine)
    await first_run(engine, tmp_path)
    yield engine
    await engine.dispose()


class Told(ReplySender):
    """The relay sender, which says when a message was sent."""

    def __init__(self, settings: RelaySettings) -> None:
        super().__init__(settings, IDENTITY)
        self.done = asyncio.Event()

    async def send_message(self, message: EmailMessage) -> SentReply:
        sent = await super().send_message(message)
        self.done.set()
        return sent


@pytest.fixture
async def relay() -> AsyncIterator[tuple[Sink, int]]:
    sink = Sink()
    server = await start_sink(sink)
    yield sink, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def parts(raw: bytes) -> tuple[EmailMessage, str, str, list[list[str]]]:
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    table = list(csv.reader(io.StringIO(attachment.get_content())))
    return message, text.get_content(), html.get_content(), table


async def test_the_previous_days_report_reaches_the_relay_at_its_time(
    logged_day: AsyncEngine, relay: tuple[Sink, int]
) -> None:
    sink, port = relay
    settings = DailyReportSettings(
        enabled=True, time="07:00", timezone="UTC", recipients=("boss@example.com",)
    )
    # one second before 07:00 the next morning
    morning = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), UTC)
    clock = morning + timedelta(hours=7) - timedelta(seconds=0.05)
    figures = ReportFigures(
        logged_day, HistoryRepository(logged_day), policy=SlPolicy, now=lambda: clock
    )
    sender = Told(RelaySettings("127.0.0.1", port, security="none", timeout_s=5))
    daily = DailyReports(figures, sender, settings, now=lambda: clock)
    assert next_run(clock, settings) == morning + timedelta(hours=7)
    task = asyncio.create_task(daily.run())
    try:
        async with asyncio.timeout(10):
            await sender.done.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    mail_from, rcpt_tos, raw = sink.messages[0]
    assert (mail_from, rcpt_tos) == ("support@hotline.test", ["boss@example.com"])
    message, text, html, table = parts(raw)
    text = text.replace("\r\n", "\n")
    assert message["Subject"] == f"hotline daily report {DAY.isoformat()}"
    assert table[0] == [title for _, title, _ in COLUMNS]
    by_group = {row[1]: dict(zip(table[0], row, strict=True)) for row in table[1:]}
    assert set(by_group) == {"all", "support", "billing"}
    # 35 calls (18 to support, 17 to billing), 9 chats and an e-mail; 7 callers gave up
    assert by_group["all"]["Offered"] == "45"
    assert (by_group["support"]["Offered"], by_group["billing"]["Offered"]) == ("18", "17")
    abandoned = int(by_group["support"]["Abandoned"]) + int(by_group["billing"]["Abandoned"])
    assert abandoned == 7
    assert by_group["all"]["Callbacks requested"] == "4"  # calls 6, 13, 20 and 27
    for row in table[1:]:  # the text and the HTML say the same as the CSV
        assert f"<td>{row[2]}</td>" in html
    assert "every channel\n  Offered: 45\n" in text
    assert "queue support\n  Offered: 18\n" in text


async def test_only_the_configured_queues_are_listed(logged_day: AsyncEngine) -> None:
    settings = DailyReportSettings(recipients=("boss@example.com",), queues=("billing",))
    figures = ReportFigures(logged_day, HistoryRepository(logged_day), policy=SlPolicy)
    report = await daily_report(figures, settings, DAY)
    assert [row.key for row, _ in report.rows] == ["all", "billing"]


def test_a_daily_report_needs_recipients_and_a_relay() -> None:
    with pytest.raises(ValidationError, match="no recipients"):
        DailyReportSettings(enabled=True)
    with pytest.raises(ValidationError, match=r"email\.relay\.host"):
        ServiceSettings.model_validate(
            {"reports": {"daily": {"enabled": True, "recipients": ["a@example.com"]}}}
        )
    with pytest.raises(ValidationError, match="time zone"):
        DailyReportSettings(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="HH:MM"):
        DailyReportSettings(time="7am")


def test_the_cli_previews_a_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Path(__file__).resolve().parents[2] / "config"
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.chdir(tmp_path)
    code = main(["reports", "send-daily", "--date", str(date(2026, 3, 2)), "--preview",
                 "--config", str(config)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "hotline: the figures of 2026-03-02" in out
    assert "\n2026-03-02,all,0,0,0," in out

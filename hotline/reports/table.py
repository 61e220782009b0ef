"""A report as the table people see: its columns, each row's cells as shown, the raw
values the charts draw, and the CSV of exactly those cells (formula-safe, as
``history.access_log.to_csv`` guards its cells)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from acd.kpi_report import ALL, Row
from hotline.reports.figures import Grain, Quality, Report

__all__ = ["COLUMNS", "csv_text", "payload", "period_label", "table"]

#: (key, title, kind): ``count``, ``ratio`` (shown as a percentage), ``seconds``, ``score``.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("period", "Period", "text"),
    ("group", "Group", "text"),
    ("offered", "Offered", "count"),
    ("answered", "Answered", "count"),
    ("abandoned", "Abandoned", "count"),
    ("service_level", "Service level", "ratio"),
    ("asa", "ASA (s)", "seconds"),
    ("aht", "AHT (s)", "seconds"),
    ("agent_time", "Agent time (s)", "seconds"),
    ("abandon_rate", "Abandonment", "ratio"),
    ("fcr", "FCR", "ratio"),
    ("csat", "CSAT", "score"),
    ("occupancy", "Occupancy", "ratio"),
    ("callbacks_requested", "Callbacks requested", "count"),
    ("callbacks_completed", "Callbacks completed", "count"),
    ("callbacks_failed", "Callbacks failed", "count"),
)


def period_label(start: datetime, grain: Grain) -> str:
    if grain == "interval":
        return start.strftime("%Y-%m-%d %H:%M")
    if grain == "day":
        return start.strftime("%Y-%m-%d")
    if grain == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime("%Y-%m")


def _values(row: Row, quality: Quality) -> dict[str, Any]:
    k, cb = row.kpis, row.callbacks
    return {
        "offered": k.offered,
        "answered": k.answered,
        "abandoned": k.abandoned,
        "service_level": k.service_level,
        "asa": k.asa,
        "aht": k.aht,
        "agent_time": k.agent_time,
        "abandon_rate": k.abandon_rate,
        "fcr": quality.fcr,
        "csat": quality.csat,
        "occupancy": row.occupancy,
        "callbacks_requested": cb.requested,
        "callbacks_completed": cb.completed,
        "callbacks_failed": cb.failed,
    }


def _shown(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "ratio":
        return f"{value * 100:.1f}%"
    if kind == "seconds":
        return f"{value:.1f}"
    if kind == "score":
        return f"{value:.2f}"
    return str(value)


def table(report: Report) -> list[dict[str, Any]]:
    """Each row: its period, its group, its cells as shown, and its raw values."""
    grain = report.request.grain
    rows = []
    for row, quality in report.rows:
        start = datetime.fromtimestamp(row.period, report.tz)
        values = _values(row, quality)
        label = period_label(start, grain)
        group = ALL if row.grouping == "channel" and row.key == ALL else row.key
        cells = [label, group] + [_shown(values[key], kind) for key, _, kind in COLUMNS[2:]]
        rows.append(
            {
                "period": start.isoformat(),
                "label": label,
                "group": group,
                "total": group == ALL,
                "cells": cells,
                "values": values,
            }
        )
    return rows


def payload(report: Report) -> dict[str, Any]:
    """What the page gets (``/reports/data``): the request, the columns and the rows."""
    request = report.request
    return {
        "from": request.first.isoformat(),
        "to": request.last.isoformat(),
        "grain": request.grain,
        "by": request.by,
        "timezone": str(report.tz),
        "as_of": report.as_of.isoformat(),
        "columns": [{"key": key, "title": title, "kind": kind} for key, title, kind in COLUMNS],
        "rows": table(report),
        "events": report.events,
        "wall_s": round(report.wall_s, 3),
    }


def csv_text(report: Report) -> str:
    """The table's cells as CSV: the header, then each row as the page shows it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for _, title, _ in COLUMNS])
    for row in table(report):
        writer.writerow([_cell(cell) for cell in row["cells"]])
    return out.getvalue()


def _cell(text: str) -> str:
    """A spreadsheet must not run a cell as a formula (a queue or intent name could start
    with ``=``)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text

"""``/admin/hours``: the IVR's business hours (a time zone, each weekday's opening windows)
and holidays (dates with names), ivr.yaml's ``business_hours``, as a form. Saved through
``hotline.config_edit`` (checked like check-config, written, reloaded, audited with the
diff; a stale form refused): new calls meet the new hours at once (the flow's ``open``
and ``holiday`` branch cases).

A day's windows are written ``08:00-12:00, 14:00-18:00`` (blank: closed that day; a window
ending before it starts runs past midnight). When the week is unchanged its YAML (ranges
such as ``sun-thu``, comments) is left as written; a changed week is written back with
days of equal hours grouped into ranges. Holidays keep the entries left as they were.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from aiohttp import web
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from hotline.web.admin.forms import (
    FRESH,
    FormErrors,
    Outcome,
    config_snapshot,
    editor_of,
    error,
    form_page,
    form_problems,
    hidden,
    refused,
    save,
    saved_notice,
    text,
)
from hotline.web.auth.guard import requires
from hotline.web.auth.users import Role
from hotline.web.templates import Safe, escape
from ivr.flow.calendar import BusinessCalendar
from ivr.flow.fields import WEEKDAYS
from ivr.flow.models import expand_days

FILE = "ivr.yaml"
#: Empty holiday rows the form offers for adding.
NEW_ROWS = 3
MAX_HOLIDAYS = 200
_WINDOW = re.compile(r"^\d\d:\d\d-\d\d:\d\d$")
_DAY_NAMES = {
    "mon": "[[Monday]]",
    "tue": "[[Tuesday]]",
    "wed": "[[Wednesday]]",
    "thu": "[[Thursday]]",
    "fri": "[[Friday]]",
    "sat": "[[Saturday]]",
    "sun": "[[Sunday]]",
}

Week = dict[str, tuple[str, ...]]


@dataclass
class HoursForm:
    timezone: str = "UTC"
    #: day (mon..sun) -> its windows as typed
    days: dict[str, str] = field(default_factory=dict)
    #: (date, name) as typed, in order
    holidays: list[tuple[str, str]] = field(default_factory=list)


def _section(data: CommentedMap) -> CommentedMap:
    section = data.get("business_hours")
    return section if isinstance(section, CommentedMap) else CommentedMap()


def week_of(hours: object) -> Week:
    """Each day's windows from ``hours`` as written (``mon-fri: [...]``)."""
    week: Week = {}
    if isinstance(hours, Mapping):
        for spec, windows in hours.items():
            try:
                days = expand_days(str(spec))
            except ValueError:
                continue
            listed = tuple(str(w) for w in windows) if isinstance(windows, list) else ()
            for day in days:
                week[WEEKDAYS[day]] = listed
    return {day: windows for day, windows in week.items() if windows}


def grouped(week: Mapping[str, tuple[str, ...]]) -> list[tuple[str, tuple[str, ...]]]:
    """Days of equal windows as ranges (``mon-fri``), wrapping round the week when that
    makes fewer (``sun-thu``); days without windows are left out."""
    hours = [week.get(day, ()) for day in WEEKDAYS]
    if len(set(hours)) == 1:
        return [("mon-sun", hours[0])] if hours[0] else []
    start = next(i for i in range(7) if hours[i] != hours[i - 1])
    groups: list[tuple[str, tuple[str, ...]]] = []
    first = start
    for step in range(1, 8):
        day = (start + step) % 7
        previous = (day - 1) % 7
        if step == 7 or hours[day] != hours[previous]:
            if hours[previous]:
                spec = WEEKDAYS[first]
                if previous != first:
                    spec += f"-{WEEKDAYS[previous]}"
                groups.append((spec, hours[previous]))
            first = day
    return sorted(groups, key=lambda g: WEEKDAYS.index(g[0].split("-")[0]))


def _form_of(data: CommentedMap) -> HoursForm:
    section = _section(data)
    week = week_of(section.get("hours"))
    holidays = section.get("holidays")
    return HoursForm(
        str(section.get("timezone", "UTC")),
        {day: ", ".join(week.get(day, ())) for day in WEEKDAYS},
        [
            (str(h.get("date", "")), str(h.get("name", "") or ""))
            for h in (holidays if isinstance(holidays, list) else ())
            if isinstance(h, Mapping)
        ],
    )


def _read(form: Mapping[str, object], errors: FormErrors) -> tuple[HoursForm, Week]:
    values = HoursForm(text(form, "timezone", limit=64))
    week: Week = {}
    for day in WEEKDAYS:
        raw = text(form, f"day:{day}", limit=200)
        values.days[day] = raw
        windows = tuple(w for w in re.split(r"[,\s]+", raw) if w)
        bad = [w for w in windows if not _WINDOW.match(w)]
        if bad:
            errors.add(f"day:{day}", f"{bad[0]!r}: write HH:MM-HH:MM, e.g. 08:00-18:00")
        elif windows:
            week[day] = windows
    if not values.timezone:
        errors.add("timezone", "required")
    rows = sorted(
        {int(key.split(":")[1]) for key in form if re.fullmatch(r"holiday_date:\d{1,3}", key)}
    )
    seen: set[str] = set()
    for row in rows[:MAX_HOLIDAYS]:
        date = text(form, f"holiday_date:{row}", limit=10)
        name = text(form, f"holiday_name:{row}", limit=100)
        if not date and not name:
            continue
        values.holidays.append((date, name))
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            errors.add(f"holiday:{len(values.holidays) - 1}", "a date, YYYY-MM-DD")
            continue
        if date in seen:
            errors.add(f"holiday:{len(values.holidays) - 1}", f"{date} is listed twice")
        seen.add(date)
    return values, week


def _windows(values: tuple[str, ...]) -> CommentedSeq:
    seq = CommentedSeq(DoubleQuotedScalarString(v) for v in values)
    seq.fa.set_flow_style()
    return seq


def _apply(data: CommentedMap, before: HoursForm, values: HoursForm, week: Week) -> None:
    section = data.get("business_hours")
    if not isinstance(section, CommentedMap):
        section = data["business_hours"] = CommentedMap()
    if section.get("timezone") != values.timezone:
        section["timezone"] = values.timezone
    if week != week_of(section.get("hours")):
        hours = CommentedMap()
        for spec, windows in grouped(week):
            hours[spec] = _windows(windows)
        if hours:
            section["hours"] = hours
        else:
            section.pop("hours", None)
    if values.holidays != before.holidays:
        old = section.get("holidays")
        kept = {
            (str(h.get("date")), str(h.get("name", "") or "")): h
            for h in (old if isinstance(old, list) else ())
            if isinstance(h, CommentedMap)
        }
        fresh = CommentedSeq()
        for date, name in sorted(values.holidays):
            entry = kept.get((date, name))
            if entry is None:
                entry = CommentedMap()
                entry["date"] = dt.date.fromisoformat(date)
                if name:
                    entry["name"] = name
                entry.fa.set_flow_style()
            fresh.append(entry)
        if fresh:
            section["holidays"] = fresh
        else:
            section.pop("holidays", None)


def _summary(before: HoursForm, values: HoursForm, old_week: Week, week: Week) -> str:
    parts = []
    if before.timezone != values.timezone:
        parts.append(f"time zone {before.timezone} -> {values.timezone}")
    days = [d for d in WEEKDAYS if old_week.get(d, ()) != week.get(d, ())]
    for day in days:
        old, new = ", ".join(old_week.get(day, ())), ", ".join(week.get(day, ()))
        parts.append(f"{day} {old or 'closed'} -> {new or 'closed'}")
    added = [h for h in values.holidays if h not in before.holidays]
    removed = [h for h in before.holidays if h not in values.holidays]
    parts += [f"holiday {d} {n} added".rstrip() for d, n in added]
    parts += [f"holiday {d} {n} removed".rstrip() for d, n in removed]
    return "business hours: " + ("; ".join(parts) or "unchanged")


def _fields(week: Week, holidays: int) -> dict[str, str]:
    at = "business_hours"
    fields = {f"{at}.timezone": "timezone", f"{at}.hours": "day:mon"}
    for spec, _ in grouped(week):
        fields[f"{at}.hours.{spec}"] = f"day:{spec.split('-')[0]}"
    for index in range(holidays):
        fields[f"{at}.holidays.{index}"] = f"holiday:{index}"
    return fields


@cache
def _zones() -> Safe:
    return Safe(
        "".join(f"<option>{escape(z)}</option>" for z in sorted(zoneinfo.available_timezones()))
    )


def _status(request: web.Request) -> Safe:
    """Open or closed now, as the running service decides it."""
    settings = editor_of(request).current().ivr.business_hours
    calendar = BusinessCalendar.from_settings(settings)
    now = dt.datetime.now(dt.UTC)
    local = calendar.local(now).strftime("%a %Y-%m-%d %H:%M")
    holiday = calendar.holiday(now)
    state = (
        '<b class="open">[[open]]</b>'
        if calendar.is_open(now)
        else '<b class="closed">[[closed]]</b>'
    )
    extra = f" ({escape(holiday)})" if holiday else ""
    return Safe(
        f'<p id="hours-now">[[Now]] <span dir="ltr">{escape(local)} {escape(settings.timezone)}'
        f"</span>: {state}{extra}</p>"
    )


def _form(request: web.Request, version: str, values: HoursForm, errors: FormErrors) -> Safe:
    days = "".join(
        f'<label class="day">{_DAY_NAMES[day]} <input name="day:{day}" '
        f'value="{escape(values.days.get(day, ""))}" dir="ltr" placeholder="[[closed]]" '
        f'maxlength="200"></label> {error(errors, f"day:{day}")}'
        for day in WEEKDAYS
    )
    rows = []
    shown = [*values.holidays, *([("", "")] * NEW_ROWS)]
    for index, (date, name) in enumerate(shown):
        rows.append(
            f'<tr data-holiday="{index}"><td><input type="date" name="holiday_date:{index}" '
            f'value="{escape(date)}" dir="ltr"></td><td><input name="holiday_name:{index}" '
            f'value="{escape(name)}" maxlength="100"></td>'
            f"<td>{error(errors, f'holiday:{index}')}</td></tr>"
        )
    return Safe(
        '<form id="hours-form" class="admin-form" method="post" action="/admin/hours">'
        f"{hidden(request, version)}{form_problems(errors)}"
        '<label>[[Time zone]] <input name="timezone" list="zones" dir="ltr" '
        f'value="{escape(values.timezone)}" maxlength="64"></label> {error(errors, "timezone")}'
        f'<datalist id="zones">{_zones()}</datalist>'
        '<fieldset class="week"><legend>[[Opening hours]]</legend>'
        f"{days}</fieldset>"
        "<fieldset><legend>[[Holidays (closed all day; blank the date to remove one)]]"
        '</legend><table id="holidays"><thead><tr><th>[[date]]</th><th>[[name]]</th><th></th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></fieldset>"
        '<div class="actions"><button type="submit">[[Save]]</button></div></form>'
    )


async def _show(
    request: web.Request, values: HoursForm | None = None, outcome: Outcome = FRESH
) -> web.Response:
    _, snapshot = config_snapshot(request, FILE)
    values = values or _form_of(snapshot.data)
    errors = outcome.errors or FormErrors()
    form = _form(request, outcome.version or snapshot.version, values, errors)
    return form_page(
        request, "Business hours", "admin_hours.html", outcome, now=_status(request), form=form
    )


@requires(Role.ADMIN)
async def hours_page(request: web.Request) -> web.StreamResponse:
    return await _show(request)


@requires(Role.ADMIN)
async def save_hours(request: web.Request) -> web.StreamResponse:
    file, snapshot = config_snapshot(request, FILE)
    before = _form_of(snapshot.data)
    old_week = week_of(_section(snapshot.data).get("hours"))
    form = await request.post()
    errors = FormErrors()
    values, week = _read(form, errors)
    version = text(form, "version", limit=64)
    if errors:
        return await _show(request, values, Outcome(errors, status=422, version=version))

    def change(data: CommentedMap) -> None:
        _apply(data, _form_of(data), values, week)

    summary = _summary(before, values, old_week, week)
    result = await save(request, file, form, change, errors, summary)
    if result is None or result.errors:
        status = refused(result, errors, _fields(week, len(values.holidays)))
        return await _show(request, values, Outcome(errors, status=status, version=version))
    return await _show(request, outcome=Outcome(notice=saved_notice(result, "business hours")))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/hours", hours_page)
    app.router.add_post("/admin/hours", save_hours)

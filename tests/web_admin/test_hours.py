"""/admin/hours: ivr.yaml's business hours and holidays as a form: saved through
config_edit (comments kept, reloaded, audited), a bad value refused beside its field with
the file unchanged, a stale form refused."""

from __future__ import annotations

import datetime as dt

from hotline.web.admin.hours import grouped
from tests.web_admin.conftest import Admin, error_beside


async def test_the_form_shows_each_day_and_the_holidays(admin: Admin) -> None:
    form = await admin.form("/admin/hours", "hours-form")
    assert form["timezone"] == "Asia/Dubai"
    assert [form[f"day:{d}"] for d in ("mon", "fri", "sat", "sun")] == [
        "08:00-20:00",
        "08:00-20:00",
        "09:00-14:00",
        "",
    ]
    assert (form["holiday_date:0"], form["holiday_name:0"]) == ("2026-12-02", "National Day")
    assert form["holiday_date:2"] == ""  # a blank row to add one


async def test_hours_and_a_holiday_are_saved_reloaded_and_audited(admin: Admin) -> None:
    form = await admin.form("/admin/hours", "hours-form")
    form.update(
        {
            "day:sun": "10:00-16:00",
            "holiday_date:2": "2026-12-25",
            "holiday_name:2": "Christmas",
            "holiday_date:1": "",  # remove the second holiday
            "holiday_name:1": "",
        }
    )
    status, page = await admin.post("/admin/hours", form)
    assert status == 200, page
    assert "business hours: saved and applied" in page
    text = (admin.config_dir / "ivr.yaml").read_text()
    assert (
        '  hours:\n    mon-fri: ["08:00-20:00"]\n    sat: ["09:00-14:00"]\n'
        '    sun: ["10:00-16:00"]\n'
    ) in text
    assert "    - {date: 2026-12-02, name: National Day}\n" in text
    assert "    - {date: 2026-12-25, name: Christmas}\n" in text
    assert "National Day holiday" not in text
    assert "# The call's language until" in text  # comments kept
    hours = admin.service.config.ivr.business_hours
    assert [h.date for h in hours.holidays] == [dt.date(2026, 12, 2), dt.date(2026, 12, 25)]
    [entry] = await admin.service.audit.recent()
    assert entry.summary == (
        "business hours: sun closed -> 10:00-16:00; holiday 2026-12-25 Christmas added;"
        " holiday 2026-12-03 National Day holiday removed"
    )
    assert entry.diff is not None
    assert "+    - {date: 2026-12-25, name: Christmas}" in entry.diff


async def test_a_bad_time_zone_is_refused_beside_it_and_nothing_is_written(
    admin: Admin,
) -> None:
    before = (admin.config_dir / "ivr.yaml").read_text()
    form = await admin.form("/admin/hours", "hours-form")
    form["timezone"] = "Mars/Olympus"
    status, page = await admin.post("/admin/hours", form)
    assert status == 422
    assert "is not a time zone" in error_beside(page, "timezone")
    assert (admin.config_dir / "ivr.yaml").read_text() == before
    form = await admin.form("/admin/hours", "hours-form")
    form["day:mon"] = "8am-5pm"
    status, page = await admin.post("/admin/hours", form)
    assert status == 422
    assert error_beside(page, "day:mon") == "'8am-5pm': write HH:MM-HH:MM, e.g. 08:00-18:00"
    form = await admin.form("/admin/hours", "hours-form")
    form["day:tue"] = "25:00-26:00"
    status, page = await admin.post("/admin/hours", form)
    assert status == 422
    assert error_beside(page, "day:tue") == "'25:00-26:00' has an impossible time"
    assert (admin.config_dir / "ivr.yaml").read_text() == before
    assert await admin.service.audit.recent() == []


async def test_a_stale_hours_form_is_refused(admin: Admin) -> None:
    stale = await admin.form("/admin/hours", "hours-form")
    assert (await admin.post("/admin/hours", dict(stale, **{"day:sun": "10:00-12:00"})))[0] == 200
    after = (admin.config_dir / "ivr.yaml").read_text()
    status, page = await admin.post("/admin/hours", dict(stale, timezone="Europe/London"))
    assert status == 409
    assert "changed by someone else" in page
    assert (admin.config_dir / "ivr.yaml").read_text() == after


def test_days_of_equal_hours_are_written_as_ranges_round_the_week() -> None:
    nine = ("09:00-17:00",)
    week = {d: nine for d in ("sun", "mon", "tue", "wed", "thu")} | {"fri": ("10:00-12:00",)}
    assert grouped(week) == [("fri", ("10:00-12:00",)), ("sun-thu", nine)]
    assert grouped({d: nine for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}) == [
        ("mon-sun", nine)
    ]
    assert grouped({}) == []

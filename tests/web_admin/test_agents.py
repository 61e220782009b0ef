"""Agents edited on /admin/agents: checked like check-config, written with comments kept,
audited with a diff, and seen by the running ACD after the reload."""

from __future__ import annotations

import asyncio

from acd.agent_events import AgentState, Login
from tests.web_admin.conftest import Admin, error_beside


async def test_an_invalid_level_comes_back_beside_its_field_and_nothing_is_written(
    admin: Admin,
) -> None:
    before = (admin.config_dir / "agents.yaml").read_text()
    form = await admin.form("/admin/agents/1001", "agent-form")
    form["level:billing"] = "lots"
    status, page = await admin.post("/admin/agents/1001", form)
    assert status == 422
    assert error_beside(page, "level:billing") == "a whole number"
    assert (admin.config_dir / "agents.yaml").read_text() == before


async def test_a_level_above_the_skills_maximum_is_refused_as_check_config_refuses_it(
    admin: Admin,
) -> None:
    before = (admin.config_dir / "agents.yaml").read_text()
    form = await admin.form("/admin/agents/1001", "agent-form")
    form["level:retention"] = "9"  # skills.yaml: retention max_level 3 (a cross-file check)
    status, page = await admin.post("/admin/agents/1001", form)
    assert status == 422
    assert error_beside(page, "level:retention") == "level 9 above max_level 3"
    assert (admin.config_dir / "agents.yaml").read_text() == before
    assert await admin.service.audit.recent() == []


async def test_a_new_agent_is_written_with_comments_kept_audited_and_can_log_in_at_once(
    admin: Admin,
) -> None:
    form = await admin.form("/admin/agents", "agent-form")
    form.update({"id": "1006", "name": "Zoë", "endpoint": "PJSIP/agent1006", "level:lang.en": "3"})
    form.update({"level:billing": "2", "new_skill": "lang.fr", "new_level": "1"})
    status, page = await admin.post("/admin/agents", form)
    assert status == 200, page
    assert 'id="saved"' in page
    text = (admin.config_dir / "agents.yaml").read_text()
    assert text.startswith("# Agents, their SIP endpoints and skills")
    assert "# null: wrap-up lasts until the agent says done" in text
    assert "busy_pause_reason: null" in text
    assert text.endswith(
        '  - id: "1006"\n    name: Zoë\n    endpoint: PJSIP/agent1006\n'
        "    skills: {billing: 2, lang.en: 3, lang.fr: 1}\n"
    )
    # the running ACD has the agent: they log in and are available
    acd = admin.service.acd
    acd.agent_event(Login("1006"))
    assert acd.distributor.book.view("1006").state is AgentState.AVAILABLE
    assert acd.distributor.agents["1006"].endpoint == "PJSIP/agent1006"
    [entry] = await admin.service.audit.recent()
    assert (entry.actor, entry.target, entry.action) == ("ada", "config/agents.yaml", "edit")
    assert entry.summary == "agent 1006 added"
    assert entry.diff is not None
    assert '+  - id: "1006"' in entry.diff
    assert "+    skills: {billing: 2, lang.en: 3, lang.fr: 1}" in entry.diff
    status, page = await admin.get("/admin/audit")
    assert "agent 1006 added" in page
    assert "+    name: Zoë" in page


async def test_a_skill_level_change_touches_only_that_value(admin: Admin) -> None:
    before = (admin.config_dir / "agents.yaml").read_text()
    form = await admin.form("/admin/agents/1002", "agent-form")
    form["level:billing"] = "4"
    status, page = await admin.post("/admin/agents/1002", form)
    assert status == 200, page
    after = (admin.config_dir / "agents.yaml").read_text()
    old = "skills: {lang.en: 3, product.internet: 2, product.tv: 3, billing: 2, experience: 2}"
    assert after == before.replace(old, old.replace("billing: 2", "billing: 4"))
    [entry] = await admin.service.audit.recent()
    assert entry.summary == "agent 1002: billing 2 -> 4"
    assert admin.service.acd.distributor.agents["1002"].skills["billing"] == 4


async def test_a_form_made_before_someone_elses_change_is_refused(admin: Admin) -> None:
    mine = await admin.form("/admin/agents/1003", "agent-form")
    theirs = dict(mine)
    theirs["name"] = "Chloe B."
    assert (await admin.post("/admin/agents/1003", theirs))[0] == 200
    saved = (admin.config_dir / "agents.yaml").read_text()
    mine["level:billing"] = "5"
    status, page = await admin.post("/admin/agents/1003", mine)
    assert status == 409
    assert "changed by someone else, reload" in page
    assert (admin.config_dir / "agents.yaml").read_text() == saved


async def test_two_saves_at_once_from_one_version_write_one_and_refuse_the_other(
    admin: Admin,
) -> None:
    form = await admin.form("/admin/agents/1004", "agent-form")
    first, second = dict(form), dict(form)
    first["level:retention"], second["level:retention"] = "2", "3"
    results = await asyncio.gather(
        admin.post("/admin/agents/1004", first), admin.post("/admin/agents/1004", second)
    )
    assert sorted(status for status, _ in results) == [200, 409]
    assert len(await admin.service.audit.recent()) == 1


async def test_an_agent_removed_is_gone_from_the_file(admin: Admin) -> None:
    form = await admin.form("/admin/agents/1005", "agent-form")
    form["action"] = "remove"
    status, page = await admin.post("/admin/agents/1005", form)
    assert status == 200, page
    assert "1005" not in (admin.config_dir / "agents.yaml").read_text()
    [entry] = await admin.service.audit.recent()
    assert entry.summary == "agent 1005 removed"

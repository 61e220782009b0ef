"""Queues edited on /admin/queues: field errors beside the field, cross-file errors refused
like check-config, warnings shown after saving, comments of untouched parts kept; a saved
change applies at once, to the calls already waiting too, and a new queue takes calls."""

from __future__ import annotations

from acd.agent_events import AgentState, Answered, Login
from acd.calls import CallFacts, IncomingCall
from tests.web_admin.conftest import Admin, error_beside


async def test_a_bad_target_comes_back_beside_its_field_and_nothing_is_written(
    admin: Admin,
) -> None:
    before = (admin.config_dir / "queues.yaml").read_text()
    form = await admin.form("/admin/queues/billing", "queue-form")
    form["sl_target_s"] = "0"
    status, page = await admin.post("/admin/queues/billing", form)
    assert status == 422
    assert error_beside(page, "sl_target_s") == "Input should be greater than 0"
    assert (admin.config_dir / "queues.yaml").read_text() == before


async def test_requiring_a_skill_the_catalogue_lacks_is_refused(admin: Admin) -> None:
    before = (admin.config_dir / "queues.yaml").read_text()
    form = await admin.form("/admin/queues/billing", "queue-form")
    form["required"] = "billing: 1\nsorcery: 2"
    status, page = await admin.post("/admin/queues/billing", form)
    assert status == 422
    assert error_beside(page, "required") == "unknown skill"
    assert (admin.config_dir / "queues.yaml").read_text() == before


async def test_requiring_a_skill_no_agent_has_is_saved_with_check_configs_warning(
    admin: Admin,
) -> None:
    form = await admin.form("/admin/queues/retention", "queue-form")
    form["required"] = "retention: 1\nproduct.tv: 5"
    status, page = await admin.post("/admin/queues/retention", form)
    assert status == 200, page
    assert 'id="warnings"' in page
    assert "calls can never be served: no agent has" in page
    text = (admin.config_dir / "queues.yaml").read_text()
    assert "    required: {retention: 1, product.tv: 5}\n" in text
    assert "# longest_idle | least_calls | round_robin" in text  # support's comments stay
    assert "queue retention: saved and applied" in page
    assert 'class="restart"' not in page


async def test_a_queue_edit_applies_to_a_waiting_call_which_is_then_answered(
    admin: Admin,
) -> None:
    acd = admin.service.acd
    ticket = acd.call_arrived(IncomingCall("c1", "retention"))
    acd.agent_event(Login("1002"))  # Bob: TV, no retention skill
    assert ticket.offers.empty()

    form = await admin.form("/admin/queues/retention", "queue-form")
    form["required"] = "product.tv: 1"
    status, page = await admin.post("/admin/queues/retention", form)
    assert status == 200, page
    assert "queue retention: saved and applied" in page
    assert 'class="restart"' not in page
    assert ticket.profile.steps[0].requirement.required == (("product.tv", 1),)
    offer = ticket.offers.get_nowait()  # the waiting call, re-profiled, found Bob at once
    assert (offer.agent_id, offer.queue, offer.entry_time) == (
        "1002",
        "retention",
        ticket.entry_time,
    )
    assert acd.fact(Answered("1002", "c1"))
    assert acd.distributor.book.view("1002").state is AgentState.ON_CALL


async def test_a_new_queue_is_added_and_takes_calls_at_once(admin: Admin) -> None:
    form = await admin.form("/admin/queues", "queue-form")
    form.update({"name": "sales", "strategy": "round_robin", "sl_target_s": "25"})
    form["required"] = "lang.en: 1"
    form["relax"] = '- after_s: 30\n  keep_only: ["lang.*"]'
    status, page = await admin.post("/admin/queues", form)
    assert status == 200, page
    text = (admin.config_dir / "queues.yaml").read_text()
    assert "  sales:\n    strategy: round_robin\n    sl_target_s: 25\n" in text
    [entry] = await admin.service.audit.recent()
    assert entry.summary == "queue sales added"
    assert "queue sales: saved and applied" in page
    acd = admin.service.acd
    acd.agent_event(Login("1001"))
    ticket = acd.call_arrived(IncomingCall("c1", "sales", CallFacts(language="en")))
    offer = ticket.offers.get_nowait()
    assert (offer.agent_id, offer.queue) == ("1001", "sales")

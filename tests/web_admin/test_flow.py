"""/admin/flow: config/ivr.yaml as a diagram with the check's errors on their nodes, and its
YAML editor: a refused text keeps the file unchanged (errors beside their lines and on
the diagram), a preview writes nothing, a saved one is reloaded and audited with its diff,
a stale form is refused."""

from __future__ import annotations

import re

from hotline.web.admin.flow_diagram import layout, read_box
from ivr.config_yaml import ConfigIssue
from tests.web_admin.conftest import Admin


def _text(form: dict[str, str]) -> str:
    # the template starts the textarea with a line break, which HTML drops
    return form["text"].removeprefix("\n")


def _node(page: str, name: str) -> str:
    start = page.index(f'data-node="{name}"')
    return page[page.rindex("<g ", 0, start) : page.index("</g>", start)]


async def test_the_flow_is_drawn_with_every_node_and_its_ways_out(admin: Admin) -> None:
    status, page = await admin.get("/admin/flow")
    assert status == 200, page
    assert '<svg class="flow-diagram"' in page
    shipped = (admin.config_dir / "ivr.yaml").read_text()
    nodes = re.findall(r"^  ([a-z_]+):\n    \w+:", shipped.split("\nnodes:\n", 1)[1], re.M)
    assert len(nodes) > 15
    for node in nodes:
        assert f'data-node="{node}"' in page
    assert "flow-entry" in _node(page, "start")
    main = _node(page, "main")
    assert "key 1 → price (product=fibre-500)" in main
    assert "▶ main-menu" in main
    assert "no errors" in page
    assert "flow-bad" not in page


async def test_a_refused_text_is_not_written_and_its_errors_are_beside_lines_and_nodes(
    admin: Admin,
) -> None:
    path = admin.config_dir / "ivr.yaml"
    before = path.read_text()
    form = await admin.form("/admin/flow", "flow-form")
    text = _text(form).replace('"4": fault', '"4": fualt')
    line = text.splitlines().index('        "4": fualt') + 1
    status, page = await admin.post("/admin/flow", dict(form, text=text))
    assert status == 422
    assert path.read_text() == before
    assert await admin.service.audit.recent() == []
    assert f'<span class="bad" id="gutter-{line}" title="unknown node &#x27;fualt&#x27;' in page
    assert "flow-bad" in _node(page, "main")
    assert "⚠ unknown node &#x27;fualt&#x27;" in _node(page, "main")
    assert f'data-line="{line}"' in page
    assert "fualt" in page  # the refused text stays in the editor to be fixed


async def test_preview_draws_the_unsaved_text_and_writes_nothing(admin: Admin) -> None:
    path = admin.config_dir / "ivr.yaml"
    before = path.read_text()
    form = await admin.form("/admin/flow", "flow-form")
    text = _text(form) + "\n  lonely:\n    hangup: {prompt: goodbye}\n"
    status, page = await admin.post("/admin/flow/preview", dict(form, text=text))
    assert status == 200
    assert "Preview of the unsaved text" in page
    lonely = _node(page, "lonely")
    assert "flow-lost" in lonely
    assert "cannot be reached" in lonely
    assert path.read_text() == before


async def test_a_saved_flow_is_reloaded_and_audited_with_its_diff(admin: Admin) -> None:
    form = await admin.form("/admin/flow", "flow-form")
    text = _text(form).replace('        "9": callback\n', "")
    status, page = await admin.post("/admin/flow", dict(form, text=text))
    assert status == 200, page
    assert "IVR flow: saved and applied" in page
    assert (admin.config_dir / "ivr.yaml").read_text() == text
    main = admin.service.config.ivr.nodes["main"]
    assert "9" not in main.options  # type: ignore[union-attr]
    [entry] = await admin.service.audit.recent()
    assert (entry.actor, entry.target) == ("ada", "config/ivr.yaml")
    assert entry.summary == "IVR flow: changed main"
    assert entry.diff is not None
    assert '-        "9": callback' in entry.diff

    # the form the admin had before this save is now stale
    status, page = await admin.post("/admin/flow", dict(form, text=_text(form)))
    assert status == 409
    assert "changed by someone else" in page
    assert (admin.config_dir / "ivr.yaml").read_text() == text


def test_a_hand_broken_file_is_drawn_as_far_as_it_reads() -> None:
    data = {
        "entry": "start",
        "nodes": {
            "start": {"menu": {"prompt": "hello", "options": {"1": "a", "2": {"goto": "b"}}}},
            "a": {"goto": "start"},
            "b": {"bogus": {}},
            "c": "not a node",
        },
    }
    issue = ConfigIssue("config/ivr.yaml", 9, "nodes.b", "unknown step 'bogus'")
    boxes, entry = layout(data, [issue])
    by_name = {b.name: b for b in boxes}
    assert entry == "start"
    assert [by_name[n].layer for n in ("start", "a", "b")] == [0, 1, 1]
    assert by_name["b"].errors == ["unknown step 'bogus'"]
    assert not by_name["c"].reachable
    assert by_name["c"].layer == 2
    assert read_box("a", {"goto": "start"}).edges == [("", "start")]
    assert by_name["start"].edges == [("key 1", "a"), ("key 2", "b")]


def test_spoken_digits_and_questions_heard_to_their_end_are_shown() -> None:
    keyed = {"collect": {"prompt": "p", "next": "b"}}
    assert "digits → account" in read_box("a", keyed).lines
    spoken = {"collect": {"prompt": "p", "next": "b", "speech": {"heard_prompt": "h"}}}
    assert "digits (keyed or said) → account" in read_box("a", spoken).lines
    callback: dict[str, object] = {"confirm_prompt": "c", "enter_prompt": "e", "next": "b"}
    assert read_box("a", {"callback": callback}).lines == ["book a call back"]
    callback["speech"] = {"heard_prompt": "h", "confirm_prompt": "c"}
    assert "number keyed or said" in read_box("a", {"callback": callback}).lines
    notice = {"ask": {"prompt": "p", "next": "b", "fallback": "c", "barge_in": False}}
    assert "heard to its end (no barge-in)" in read_box("a", notice).lines

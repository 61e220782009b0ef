"""ivr.yaml is refused with file, line and reason: through the config loader, with the
file registered with ``check_flow`` as hotline.config registers it."""

from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path

import pytest

from hotline import config
from hotline.config import ConfigError, ConfigIssue, load_config
from ivr.config_yaml import parse_yaml
from ivr.flow.models import IvrSettings, anchor_config_paths
from ivr.flow.validation import check_flow

from .support import write_wav

ROOT = Path(__file__).resolve().parents[3]

VALID = """
    entry: main
    nodes:
      main:
        menu:
          prompt: main-menu
          options:
            "1": billing
            "0": agent
      billing:
        set:
          values: {call_type: billing}
          next: agent
      agent:
        queue: {prompt: transfer}
"""


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """ivr.yaml checked by check_flow, as the registry line proposed for hotline.config."""
    files = tuple(
        dataclasses.replace(entry, check=check_flow) if entry.name == "ivr.yaml" else entry
        for entry in config.CONFIG_FILES
    )
    monkeypatch.setattr(config, "CONFIG_FILES", files)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "hotline.yaml").write_text("fastagi:\n  port: 4573\n", encoding="utf-8")
    for language in ("en", "ar"):
        for name in ("main-menu", "transfer"):
            write_wav(tmp_path / "prompts" / language / f"{name}.wav")
    return directory


def write_ivr(config_dir: Path, body: str, **header: object) -> str:
    """ivr.yaml: prompts under the test's directory, then ``body``; returns the text."""
    settings = {
        "languages": "[en, ar]",
        "intents_file": "null",
        "prompts": (
            f"\n  directory: {config_dir.parent / 'prompts'}\n  asterisk_dir: /sounds/hotline"
            "\n  core_sounds_dir: null"
        ),
    }
    settings.update({key: str(value) for key, value in header.items()})
    text = "".join(f"{key}: {value}\n" for key, value in settings.items())
    text += textwrap.dedent(body).lstrip("\n")
    (config_dir / "ivr.yaml").write_text(text, encoding="utf-8")
    return text


def refused(config_dir: Path) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir, environ={})
    return list(caught.value.issues)


def only_issue(config_dir: Path) -> ConfigIssue:
    issues = refused(config_dir)
    assert len(issues) == 1, issues
    return issues[0]


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_a_valid_flow_loads_into_the_config(config_dir: Path) -> None:
    write_ivr(config_dir, VALID)
    loaded = load_config(config_dir, environ={})
    assert loaded.ivr.entry == "main"
    assert loaded.ivr.all_languages == ("en", "ar")


def test_without_ivr_yaml_the_built_in_flow_validates(config_dir: Path) -> None:
    assert load_config(config_dir, environ={}).ivr == IvrSettings()


def test_unknown_target_names_its_line_and_the_node_meant(config_dir: Path) -> None:
    text = write_ivr(config_dir, VALID.replace('"1": billing', '"1": biling'))
    issue, unreachable = refused(config_dir)
    assert unreachable.path == "nodes.billing"
    assert issue.file == str(config_dir / "ivr.yaml")
    assert issue.line == line_of(text, '"1": biling')
    assert issue.path == "nodes.main.menu.options.1.goto"
    assert issue.message == "unknown node 'biling' (did you mean 'billing'?)"


def test_unknown_entry_node(config_dir: Path) -> None:
    text = write_ivr(config_dir, VALID.replace("entry: main", "entry: start"))
    issues = refused(config_dir)
    assert (issues[0].line, issues[0].path) == (line_of(text, "entry: start"), "entry")
    assert "unknown node 'start'" in issues[0].message


def test_node_nobody_reaches_is_refused(config_dir: Path) -> None:
    text = write_ivr(config_dir, VALID + "      orphan:\n        hangup: {}\n")
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (line_of(text, "orphan:"), "nodes.orphan")
    assert issue.message == "node 'orphan' cannot be reached from 'main'"


def test_option_without_a_target_is_refused(config_dir: Path) -> None:
    text = write_ivr(config_dir, VALID.replace('"0": agent', '"0":'))
    issues = refused(config_dir)
    assert [(i.line, i.path) for i in issues] == [
        (line_of(text, '"0":'), "nodes.main.menu.options.0")
    ]
    assert "the option has no target node" in issues[0].message


def test_loop_that_never_waits_for_the_caller_is_refused(config_dir: Path) -> None:
    text = write_ivr(
        config_dir,
        """
        entry: a
        nodes:
          a:
            play: {prompt: transfer, next: b}
          b:
            branch:
              cases: [{open: false, goto: c}]
              default: a
          c:
            hangup: {}
        """,
    )
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (line_of(text, "  a:"), "nodes.a")
    assert issue.message == "loop without caller input: a -> b -> a"


def test_loop_through_a_menu_is_fine(config_dir: Path) -> None:
    write_ivr(config_dir, VALID.replace('"0": agent', '"0": main'))
    assert load_config(config_dir, environ={}).ivr.entry == "main"


def test_prompt_missing_in_one_language_is_refused(config_dir: Path) -> None:
    (config_dir.parent / "prompts" / "ar" / "transfer.wav").unlink()
    text = write_ivr(config_dir, VALID)
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (
        line_of(text, "queue: {prompt: transfer}"),
        "nodes.agent.queue.prompt",
    )
    assert issue.message.startswith("prompt 'transfer' has no ar recording (")
    assert "ar/transfer.wav is missing" in issue.message


def test_prompt_audio_asterisk_cannot_play_is_refused(config_dir: Path) -> None:
    prompts = config_dir.parent / "prompts"
    write_wav(prompts / "en" / "transfer.wav", rate=44100, channels=2)
    (prompts / "ar" / "transfer.wav").write_text("not audio", encoding="utf-8")
    write_ivr(config_dir, VALID)
    issue = only_issue(config_dir)
    assert "44100 Hz, 2 channel(s), 16-bit" in issue.message
    assert "hotline prompts import" in issue.message
    assert "ar/transfer.wav is not readable audio" in issue.message


def test_core_prompts_are_checked_in_asterisks_sounds(config_dir: Path, tmp_path: Path) -> None:
    write_wav(tmp_path / "sounds" / "en" / "beep.wav")
    body = VALID.replace("queue: {prompt: transfer}", "queue: {prompt: vm-sorry}")
    body = body.replace("prompt: main-menu", "prompt: beep")
    text = write_ivr(
        config_dir,
        body,
        prompts=f"\n  directory: {tmp_path / 'prompts'}\n  core: [beep, vm-sorry]"
        f"\n  core_sounds_dir: {tmp_path / 'sounds'}",
    )
    issue = only_issue(config_dir)  # beep: en, and Asterisk's English fallback for ar
    assert issue.line == line_of(text, "vm-sorry}")
    assert issue.message.startswith("core prompt 'vm-sorry' is not in ")


def test_intent_unknown_to_the_classifier_is_refused(config_dir: Path, tmp_path: Path) -> None:
    intents = tmp_path / "intents.yaml"
    intents.write_text("intents:\n  billing: {}\n  cancellation: {}\n", encoding="utf-8")
    body = VALID.replace(
        '            "0": agent\n',
        '            "0": agent\n          speech:\n            intents: {biling: billing}\n',
    )
    text = write_ivr(config_dir, body, intents_file=intents)
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (
        line_of(text, "intents: {biling"),
        "nodes.main.menu.speech.intents.biling",
    )
    assert issue.message == f"unknown intent 'biling' in {intents} (did you mean 'billing'?)"


def test_unknown_step_type_is_refused_with_a_suggestion(config_dir: Path) -> None:
    text = write_ivr(config_dir, VALID.replace("queue: {prompt: transfer}", "qeue: {}"))
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (line_of(text, "agent:"), "nodes.agent")
    assert "unknown step 'qeue' (did you mean 'queue'?)" in issue.message


def test_node_with_two_steps_is_refused(config_dir: Path) -> None:
    body = VALID.replace("queue: {prompt: transfer}", "queue: {}\n        hangup: {}")
    text = write_ivr(config_dir, body)
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (line_of(text, "agent:"), "nodes.agent")
    assert "a node is exactly one step" in issue.message
    assert "found: queue, hangup" in issue.message


def test_misspelt_step_setting_names_its_own_line(config_dir: Path) -> None:
    text = write_ivr(
        config_dir, VALID.replace("prompt: main-menu", "prompt: main-menu\n          timeuot_s: 3")
    )
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (line_of(text, "timeuot_s"), "nodes.main.menu.timeuot_s")
    assert issue.message == "unknown key 'timeuot_s'"


def test_wrong_value_in_a_step_names_its_line(config_dir: Path) -> None:
    body = VALID.replace("prompt: main-menu", "prompt: main-menu\n          max_tries: 0")
    text = write_ivr(config_dir, body)
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (line_of(text, "max_tries"), "nodes.main.menu.max_tries")


def test_language_the_flow_does_not_speak_is_refused(config_dir: Path) -> None:
    body = VALID.replace("values: {call_type: billing}", "values: {language: fr}")
    text = write_ivr(config_dir, body)
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (
        line_of(text, "language: fr"),
        "nodes.billing.set.values.language",
    )
    assert issue.message == "language 'fr' is not one of languages: en, ar"


def test_bad_business_hours_are_refused(config_dir: Path) -> None:
    text = write_ivr(
        config_dir,
        VALID,
        business_hours='\n  timezone: Mars/Olympus\n  hours: {mon: ["9:00-17:00"]}',
    )
    issues = refused(config_dir)
    assert [(i.line, i.path) for i in issues] == [
        (line_of(text, "timezone:"), "business_hours.timezone"),
        (line_of(text, "hours: {mon"), "business_hours.hours.mon.0"),
    ]
    assert "'Mars/Olympus' is not a time zone" in issues[0].message
    assert "'9:00-17:00' is not a time window" in issues[1].message


def test_catalog_problems_are_reported_with_the_catalogs_line(
    config_dir: Path, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "products:\n  fibre:\n    name: Fibre\n    price: -5\n    prompt: transfer\n",
        encoding="utf-8",
    )
    text = write_ivr(
        config_dir,
        VALID,
        prompts=f"\n  directory: {tmp_path / 'prompts'}\n  catalog: {catalog}",
    )
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (line_of(text, "catalog:"), "prompts.catalog")
    assert issue.message == f"{catalog}:4: products.fibre.price: a price cannot be negative"


def test_catalog_step_naming_an_unknown_product_is_refused(
    config_dir: Path, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "products:\n  fibre:\n    name: Fibre\n    price: 5\n    prompt: transfer\n",
        encoding="utf-8",
    )
    body = VALID.replace(
        "set:\n          values: {call_type: billing}",
        "catalog:\n          show: price\n          product: fiber",
    )
    text = write_ivr(
        config_dir, body, prompts=f"\n  directory: {tmp_path / 'prompts'}\n  catalog: {catalog}"
    )
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (
        line_of(text, "product: fiber"),
        "nodes.billing.catalog.product",
    )
    assert issue.message == "no product 'fiber' in the catalog (did you mean 'fibre'?)"


def test_the_shipped_flow_catalog_and_prompts_validate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # ivr.yaml's paths are relative to its own directory
    document = parse_yaml((ROOT / "config" / "ivr.yaml").read_text(encoding="utf-8"))
    anchor_config_paths(document.data, ROOT / "config")
    settings = IvrSettings.model_validate(document.data)
    assert list(check_flow(settings)) == []
    assert set(settings.all_languages) == {"en", "ar"}
    assert os.path.getsize(ROOT / "prompts" / "en" / "main-menu.wav") > 0

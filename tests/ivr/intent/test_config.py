"""intents.yaml validation: every mistake is refused with the file, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.intent import IntentsConfig, check_intents
from ivr.intent.cli import IntentsFileError, load_intents

VALID = """\
threshold: 0.4
languages: [en]
intents:
  billing:
    call_type: billing
    complexity: 3
    examples:
      en:
        - my bill
        - a question about my invoice
  technical_fault:
    call_type: technical_fault
    examples:
      en:
        - my internet is down
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "intents.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_loads(tmp_path: Path) -> None:
    config = load_intents(_write(tmp_path, VALID))
    assert set(config.intents) == {"billing", "technical_fault"}
    assert config.intents["technical_fault"].complexity == 2  # the default


def test_an_intent_without_examples_is_refused_at_its_line(tmp_path: Path) -> None:
    text = VALID + "  complaint:\n    call_type: complaint\n"
    with pytest.raises(IntentsFileError) as error:
        load_intents(_write(tmp_path, text))
    assert str(error.value) == (
        f"{tmp_path / 'intents.yaml'}:16: intents.complaint.examples: "
        "no example phrases: the classifier could never choose it"
    )


def test_an_intent_missing_a_declared_language_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("languages: [en]", "languages: [en, ar]")
    with pytest.raises(IntentsFileError) as error:
        load_intents(_write(tmp_path, text))
    message = str(error.value)
    assert ":7: intents.billing.examples: no 'ar' examples" in message
    assert ":13: intents.technical_fault.examples: no 'ar' examples" in message


def test_an_unknown_call_type_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    text = VALID.replace("call_type: billing", "call_type: biling")
    with pytest.raises(IntentsFileError, match=r":5: intents\.billing\.call_type: .*'billing'\?"):
        load_intents(_write(tmp_path, text))


def test_the_same_phrase_under_two_intents_is_refused_where_it_repeats(tmp_path: Path) -> None:
    text = VALID.replace("- my internet is down", "- My bill!")
    with pytest.raises(IntentsFileError) as error:
        load_intents(_write(tmp_path, text))
    assert ":15: intents.technical_fault.examples.en.0: 'My bill!' is already an example at " in (
        str(error.value)
    )
    assert "intents.billing.examples.en.0" in str(error.value)


def test_examples_in_an_undeclared_language_are_refused(tmp_path: Path) -> None:
    text = VALID + "      fr:\n        - internet en panne\n"
    with pytest.raises(IntentsFileError, match=r"examples\.fr: language 'fr' is not in languages"):
        load_intents(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("threshold: 0.4", "threshold: 1.5"), ":1: threshold: Input should be less than"),
        (("complexity: 3", "complexity: 9"), ":6: intents.billing.complexity:"),
        (("  billing:", "  Billing:"), "intents.Billing: String should match pattern"),
        (("threshold: 0.4", "threshhold: 0.4"), "threshhold: Extra inputs are not permitted"),
    ],
)
def test_model_errors_are_located(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    with pytest.raises(IntentsFileError, match=expected.replace(".", r"\.")):
        load_intents(_write(tmp_path, VALID.replace(*change)))


def test_a_reserved_name_is_refused() -> None:
    config = IntentsConfig.model_validate(
        {"intents": {"unknown": {"call_type": "general", "examples": {"en": ["hm"]}}}}
    )
    problems = dict(check_intents(config))
    assert ("intents", "unknown") in problems


def test_yaml_reading_yes_as_a_boolean_is_reported(tmp_path: Path) -> None:
    text = VALID.replace("- my bill\n", "- yes\n")
    with pytest.raises(IntentsFileError, match=r":9: intents\.billing\.examples\.en\.0:"):
        load_intents(_write(tmp_path, text))


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(IntentsFileError, match="file not found"):
        load_intents(tmp_path / "nope.yaml")

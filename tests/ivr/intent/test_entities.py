"""Entities: the catalog product a caller names comes back with the intent."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ivr.intent import IntentsConfig, build_classifier, check_intents
from ivr.intent.cli import load_intents
from ivr.intent.entities import EntityExtractor

ROOT = Path(__file__).resolve().parents[3]

PRODUCTS = EntityExtractor(
    {
        "product": {
            "fibre-500": {"en": ("fibre 500", "fibre"), "ar": ("فايبر",)},
            "mobile-unlimited": {"en": ("unlimited mobile plan", "mobile plan")},
            "mobile-basic": {"en": ("basic mobile plan",)},
        }
    }
)


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("How much is the Fibre 500?", "fibre-500"),
        ("price of fiber please", "fibre-500"),  # American spelling, as Whisper writes it
        ("what does the unlimited mobile plan cost", "mobile-unlimited"),
        ("the basic mobile plan", "mobile-basic"),  # the longest phrase wins
        ("كم سعر الفايبر", "fibre-500"),  # joined article
        ("أبغى أشترك بالفايبر", "fibre-500"),  # joined preposition and article
        ("أبي fibre 500", "fibre-500"),  # code-switching
    ],
)
def test_a_named_product_is_found(text: str, product: str) -> None:
    assert PRODUCTS.extract(text) == (("product", product),)


@pytest.mark.parametrize("text", ["my internet is down", "fib re", "fibreglass", "", "كمبيوتر"])
def test_nothing_is_found_where_no_phrase_is_a_whole_word(text: str) -> None:
    assert PRODUCTS.extract(text) == ()


def test_the_shipped_entities_name_catalog_products() -> None:
    shipped = load_intents(ROOT / "config" / "intents.yaml")
    catalog = yaml.safe_load((ROOT / "prompts" / "catalog.yaml").read_text(encoding="utf-8"))
    assert set(shipped.entities["product"]) <= set(catalog["products"])


def test_the_classifier_returns_the_product_with_the_intent() -> None:
    classifier = build_classifier(load_intents(ROOT / "config" / "intents.yaml"))
    match = classifier.classify("how much is the fibre 500 package", "en")
    assert match.intent == "price_question"
    assert match.entity("product") == "fibre-500"
    assert match.entity("colour") is None
    assert classifier.classify("كم سعر الباقة المفتوحة", "ar").entity("product") == (
        "mobile-unlimited"
    )


def test_a_phrase_naming_two_values_is_refused() -> None:
    config = IntentsConfig.model_validate(
        {
            "intents": {
                "a": {"call_type": "general", "examples": {"en": ["x"]}},
                "b": {"call_type": "general", "examples": {"en": ["y"]}},
            },
            "entities": {"product": {"p1": {"en": ["fibre"]}, "p2": {"en": ["Fibre!"]}}},
        }
    )
    problems = dict(check_intents(config))
    assert problems[("entities", "product", "p2", "en", 0)] == (
        "'Fibre!' also names 'p1': which one is meant?"
    )


def test_a_value_without_phrases_is_refused() -> None:
    config = IntentsConfig.model_validate(
        {
            "intents": {
                "a": {"call_type": "general", "examples": {"en": ["x"]}},
                "b": {"call_type": "general", "examples": {"en": ["y"]}},
            },
            "entities": {"product": {"p1": {}}},
        }
    )
    assert ("entities", "product", "p1") in dict(check_intents(config))

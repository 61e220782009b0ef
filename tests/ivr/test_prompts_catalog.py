"""The price/offer catalog: what it answers, and how a bad file is refused (file, line)."""

from __future__ import annotations

import datetime as dt
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from ivr.catalog import EMPTY_CATALOG, CatalogError, load_catalog, read_catalog

ROOT = Path(__file__).resolve().parents[2]

CATALOG = """
    currency: AED
    products:
      fibre:
        name: Fibre 500
        price: 299
        prompt: price-fibre
        intents: [price_question, fibre_price]
      mobile:
        name: Mobile
        price: 149.50
        currency: USD
        prompt: price-mobile
    offers:
      spring:
        name: Spring
        prompt: offer-spring
        valid_from: 2026-03-01
        valid_until: 2026-05-31
      year:
        name: All year
        prompt: offer-year
        valid_from: 2026-01-01
        valid_until: 2026-12-31
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_a_product_is_found_by_id_or_by_an_intent_it_answers(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, CATALOG))
    assert catalog.product("mobile") is not None
    found = catalog.product("fibre_price")
    assert found is not None
    product_id, product = found
    assert (product_id, product.price, catalog.currency_of(product)) == (
        "fibre",
        Decimal(299),
        "AED",
    )
    assert catalog.currency_of(catalog.data.products["mobile"]) == "USD"
    assert catalog.product("television") is None


def test_offers_are_those_valid_that_day_newest_first_both_ends_included(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, CATALOG))
    on = catalog.offers_on
    assert [i for i, _ in on(dt.date(2026, 3, 1))] == ["spring", "year"]
    assert [i for i, _ in on(dt.date(2026, 5, 31))] == ["spring", "year"]
    assert [i for i, _ in on(dt.date(2026, 6, 1))] == ["year"]
    assert [i for i, _ in on(dt.date(2027, 1, 1))] == []
    assert [i for i, _ in on(dt.date(2026, 3, 1), limit=1)] == ["spring"]


def test_no_catalog_configured_is_an_empty_one() -> None:
    assert load_catalog(None) is EMPTY_CATALOG
    assert EMPTY_CATALOG.offers_on(dt.date(2026, 1, 1)) == []


@pytest.mark.parametrize(
    ("old", "new", "at", "path", "reason"),
    [
        ("price: 299", "price: cheap", "cheap", "products.fibre.price", "valid decimal"),
        ("until: 2026-05-31", "until: 2026-02-01", "spring:", "offers.spring", "before"),
        ("currency: USD", "currency: usd", "usd", "products.mobile.currency", "pattern"),
        ("prompt: offer-year", "prompt: offer-year.wav", ".wav", "offers.year.prompt", "no file"),
        ("  mobile:", "  Mobile Plan:", "Mobile", "products.Mobile Plan", "pattern"),
        ("    name: Spring", "    nmae: Spring", "nmae", "offers.spring.nmae", "unknown key"),
    ],
)
def test_a_bad_entry_is_refused_with_its_line(
    tmp_path: Path, old: str, new: str, at: str, path: str, reason: str
) -> None:
    text = textwrap.dedent(CATALOG).lstrip("\n")
    assert old in text
    source = write(tmp_path, text.replace(old, new, 1))
    lines = source.read_text(encoding="utf-8").splitlines()
    expected_line = next(i for i, line in enumerate(lines, 1) if at in line)

    catalog, issues = read_catalog(source)

    assert catalog is None
    (issue,) = [i for i in issues if i.path == path]
    assert (issue.file, issue.line) == (str(source), expected_line)
    assert reason in issue.message


def test_an_offer_of_an_unknown_product_and_an_intent_claimed_twice_are_refused(
    tmp_path: Path,
) -> None:
    text = CATALOG.replace(
        "        valid_until: 2026-12-31\n",
        "        valid_until: 2026-12-31\n        products: [fiber]\n",
    ).replace("prompt: price-mobile", "prompt: price-mobile\n        intents: [price_question]")
    with pytest.raises(CatalogError) as caught:
        load_catalog(write(tmp_path, text))
    messages = [(i.path, i.message) for i in caught.value.issues]
    assert messages == [
        ("offers.year.products.0", "unknown product 'fiber'"),
        ("products.mobile.intents.0", "intent 'price_question' already means the price of 'fibre'"),
    ]
    assert all(i.line is not None for i in caught.value.issues)


def test_unreadable_or_broken_files_are_refused(tmp_path: Path) -> None:
    _, missing = read_catalog(tmp_path / "nope.yaml")
    assert "cannot read" in missing[0].message
    _, broken = read_catalog(write(tmp_path, "products: [oops\n"))
    assert "YAML syntax error" in broken[0].message


def test_the_shipped_catalog_loads() -> None:
    catalog = load_catalog(ROOT / "prompts" / "catalog.yaml")
    assert catalog.data.currency == "AED"
    assert [i for i, _ in catalog.offers_on(dt.date(2026, 7, 1))] == ["double-speed"]

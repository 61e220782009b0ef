"""The price/offer catalog (``prompts/catalog.yaml``): self-service answers from recordings.

Products carry their price (for screens and reports) and the recorded message that says it;
offers carry validity dates (inclusive, in the IVR's time zone) and their message. "Price of
X" finds the product by id, or by an intent the product lists; "latest offers" plays the
offers valid today, the most recently started first. Every message is a prompt name,
recorded once per language like any prompt.

The file is read with the config machinery's YAML reader, so a bad entry is reported as
``catalog.yaml:LINE: offers.summer.valid_until: reason``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationError, model_validator

from ivr.config_yaml import ConfigError, ConfigIssue, YamlFileError, parse_yaml
from ivr.flow.fields import FrozenModel, Loc, PromptName

__all__ = [
    "EMPTY_CATALOG",
    "Catalog",
    "CatalogError",
    "CatalogFile",
    "Offer",
    "Product",
    "load_catalog",
    "read_catalog",
]

#: Larger than any hand-edited catalog.
MAX_CATALOG_BYTES = 1 << 20

ItemId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("a price cannot be negative")
    return value


Price = Annotated[Decimal, AfterValidator(_not_negative)]


class Product(FrozenModel):
    name: str
    price: Price
    currency: Currency | None = None  # default: the catalog's
    unit: str = ""  # "per month"
    prompt: PromptName  # the recorded message that says the price
    #: Intents that mean "the price of this" (a flow may pick the product by intent).
    intents: tuple[str, ...] = ()


class Offer(FrozenModel):
    name: str
    prompt: PromptName
    valid_from: dt.date
    valid_until: dt.date  # inclusive
    products: tuple[str, ...] = ()
    price: Price | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> Offer:
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.valid_until


class CatalogFile(FrozenModel):
    currency: Currency = "USD"
    products: dict[ItemId, Product] = Field(default_factory=dict)
    offers: dict[ItemId, Offer] = Field(default_factory=dict)


def check_catalog(data: CatalogFile) -> Iterator[tuple[Loc, str]]:
    """What the models alone cannot say: an offer of an unknown product, an intent that
    names two products."""
    for offer_id, offer in data.offers.items():
        for index, wanted in enumerate(offer.products):
            if wanted not in data.products:
                yield ("offers", offer_id, "products", index), f"unknown product {wanted!r}"
    owner: dict[str, str] = {}
    for product_id, product in data.products.items():
        for index, intent in enumerate(product.intents):
            if intent in owner:
                message = f"intent {intent!r} already means the price of {owner[intent]!r}"
                yield ("products", product_id, "intents", index), message
            owner.setdefault(intent, product_id)


class CatalogError(ConfigError):
    """The catalog was refused; ``issues`` lists every problem, located like config errors."""


@dataclass(frozen=True)
class Catalog:
    data: CatalogFile = field(default_factory=CatalogFile)
    source: Path | None = None
    #: Where each key path starts in the file (for checks that name a line).
    lines: dict[Loc, int] = field(default_factory=dict)

    def product(self, key: str) -> tuple[str, Product] | None:
        """By product id, else by an intent the product lists."""
        found = self.data.products.get(key)
        if found is not None:
            return key, found
        for product_id, product in self.data.products.items():
            if key in product.intents:
                return product_id, product
        return None

    def offers_on(self, day: dt.date, limit: int | None = None) -> list[tuple[str, Offer]]:
        """Offers valid on ``day``, the most recently started first."""
        valid = [(i, o) for i, o in self.data.offers.items() if o.valid_on(day)]
        valid.sort(key=lambda item: (item[1].valid_from, item[0]), reverse=True)
        return valid if limit is None else valid[:limit]

    def currency_of(self, product: Product) -> str:
        return product.currency or self.data.currency

    def prompts(self) -> Iterator[tuple[Loc, str]]:
        """Every recorded message the catalog points at, with its key path."""
        for product_id, product in self.data.products.items():
            yield ("products", product_id, "prompt"), product.prompt
        for offer_id, offer in self.data.offers.items():
            yield ("offers", offer_id, "prompt"), offer.prompt

    def line_of(self, loc: Loc) -> int | None:
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None


EMPTY_CATALOG = Catalog()


def read_catalog(path: Path) -> tuple[Catalog | None, list[ConfigIssue]]:
    """The catalog and no issues, or None and every issue found (with lines)."""
    label = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CATALOG_BYTES + 1)
    except OSError as exc:
        return None, [ConfigIssue(label, None, "", f"cannot read: {exc.strerror or exc}")]
    if len(raw) > MAX_CATALOG_BYTES:
        return None, [ConfigIssue(label, None, "", f"larger than {MAX_CATALOG_BYTES} bytes")]
    try:
        document = parse_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [ConfigIssue(label, line, "", "not UTF-8 text")]
    except YamlFileError as exc:
        issues = [ConfigIssue(label, p.line, _dotted(p.path), p.message) for p in exc.problems]
        return None, issues
    try:
        data = CatalogFile.model_validate(document.data)
    except ValidationError as exc:
        issues = []
        for error in exc.errors():
            loc = tuple(part for part in error["loc"] if part != "[key]")  # a bad mapping key
            message = _message(error["type"], loc, error["msg"])
            issues.append(ConfigIssue(label, document.line_of(loc), _dotted(loc), message))
        return None, issues
    catalog = Catalog(data, path, dict(document.lines))
    problems = [
        ConfigIssue(label, catalog.line_of(loc), _dotted(loc), message)
        for loc, message in check_catalog(data)
    ]
    return (None, problems) if problems else (catalog, [])


def load_catalog(path: Path | None) -> Catalog:
    """The catalog at ``path`` (None: an empty one); ``CatalogError`` lists every issue."""
    if path is None:
        return EMPTY_CATALOG
    catalog, issues = read_catalog(path)
    if catalog is None:
        raise CatalogError(issues)
    return catalog


def _message(kind: str, loc: Loc, message: str) -> str:
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    return message.removeprefix("Value error, ")


def _dotted(loc: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in loc)

"""A product named loosely in a caller's answer (``ivr.intent.entities.ProductNames``, used
by a price step when no product was chosen or named exactly): CPU and wall time per answer
on catalogs of growing size, beside the baseline in the same run, difflib's ratio over the
same word windows in pure Python (what ``spoken_product`` did before rapidfuzz), and how
often the two pick the same product.

The answers are the English lines of tests/ivr/speech/data/spoken_heldout.csv (mostly no
product) and, per catalog, 20 asking the price of one of its products misheard (a letter
dropped from a word of its name): "right" counts those found. The catalogs are the shipped
prompts/catalog.yaml and generated ones of 50 and 500 products (three-word names from a
telecom vocabulary, plus a number). The match runs on the event loop, once per price step
that needs it.

    .venv/bin/python bench/product_names_bench.py [--sizes 50 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import difflib
import functools
import random
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.catalog import load_catalog  # noqa: E402
from ivr.intent.entities import ProductNames, _matchable  # noqa: E402

VOCABULARY = [
    "fibre", "mobile", "unlimited", "family", "sports", "tv", "bundle", "premium", "router",
    "home", "office", "business", "gold", "silver", "basic", "plus", "max", "mini", "data",
    "prepaid", "postpaid", "kids", "movies", "gaming", "roaming",
]  # fmt: skip


def difflib_product(text: str, products: Mapping[str, Iterable[str]]) -> str | None:
    """The baseline: every name against every run of about as many words, difflib's ratio."""
    said = _matchable(text)
    best: tuple[float, int, str] | None = None
    for product, names in sorted(products.items()):
        for name in names:
            wanted = _matchable(name)
            target = " ".join(wanted)
            if len(target) < 3:
                continue
            for size in {max(1, len(wanted) - 1), len(wanted), len(wanted) + 1}:
                for start in range(len(said) - size + 1):
                    window = " ".join(said[start : start + size])
                    ratio = difflib.SequenceMatcher(None, window, target).ratio()
                    if ratio >= 0.8 and (best is None or (ratio, len(target)) > best[:2]):
                        best = (ratio, len(target), product)
    return None if best is None else best[2]


def catalog_of(size: int) -> dict[str, list[str]]:
    rng = random.Random(size)
    return {
        f"p{i}": [" ".join(rng.sample(VOCABULARY, 3)) + f" {10 * (i + 1)}", f"p {i}"]
        for i in range(size)
    }


def misheard(products: dict[str, list[str]], count: int) -> list[tuple[str, str]]:
    """(answer, product) asking the price of a product, one of its name's words misheard."""
    rng = random.Random(count)
    asked = []
    for product in rng.sample(sorted(products), min(count, len(products))):
        name = products[product][0].split()
        word = rng.randrange(len(name))
        if len(name[word]) > 3:
            cut = rng.randrange(len(name[word]))
            name[word] = name[word][:cut] + name[word][cut + 1 :]
        asked.append((f"how much is the {' '.join(name)} per month", product))
    return asked


def timed(
    find: Callable[[str], str | None], answers: list[str], repeat: int
) -> tuple[list[str | None], float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    found = [find(text) for _ in range(repeat) for text in answers][: len(answers)]
    runs = repeat * len(answers)
    return found, (time.perf_counter() - wall) / runs, (time.process_time() - cpu) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[50, 500])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with (ROOT / "tests/ivr/speech/data/spoken_heldout.csv").open(encoding="utf-8") as handle:
        answers = [row["text"] for row in csv.DictReader(handle) if row["language"] == "en"]
    shipped = load_catalog(ROOT / "prompts" / "catalog.yaml")
    catalogs = {
        f"shipped ({len(shipped.data.products)})": {
            pid: [p.name, pid.replace("-", " ")] for pid, p in shipped.data.products.items()
        },
        **{str(size): catalog_of(size) for size in args.sizes},
    }
    print(
        f"{len(answers)} answers + 20 misheard names, x{args.repeat}; per answer, ms (wall / CPU)"
    )
    print(
        f"{'catalog':>11} | {'rapidfuzz (shipped)':>19} | right | {'difflib (baseline)':>19} |"
        " right | same pick"
    )
    for label, products in catalogs.items():
        asked = misheard(products, 20)
        texts = answers + [text for text, _ in asked]
        names = ProductNames(products)
        new, new_wall, new_cpu = timed(names.find, texts, args.repeat)
        baseline = functools.partial(difflib_product, products=products)
        old, old_wall, old_cpu = timed(baseline, texts, 1)
        wanted = [product for _, product in asked]
        new_right = sum(a == b for a, b in zip(new[len(answers) :], wanted, strict=True))
        old_right = sum(a == b for a, b in zip(old[len(answers) :], wanted, strict=True))
        same = sum(a == b for a, b in zip(new, old, strict=True))
        print(
            f"{label:>11} | {new_wall * 1e3:8.2f} / {new_cpu * 1e3:8.2f}"
            f" | {new_right:2}/{len(asked)} | {old_wall * 1e3:8.2f} / {old_cpu * 1e3:8.2f}"
            f" | {old_right:2}/{len(asked)}"
            f" | {same}/{len(texts)}"
        )


if __name__ == "__main__":
    main()

"""The price/offer catalog on /admin/catalog: an item is checked by the catalog's models,
its recorded message must exist in every language, and the whole config as check-config
checks it; a valid change keeps the file's comments and formatting."""

from __future__ import annotations

from tests.web_admin.conftest import Admin, error_beside


async def test_a_price_change_keeps_the_files_comments_and_is_audited(admin: Admin) -> None:
    before = admin.catalog.read_text()
    form = await admin.form("/admin/catalog/products/mobile-unlimited", "product-form")
    form["price"] = "139.50"
    status, page = await admin.post("/admin/catalog/products/mobile-unlimited", form)
    assert status == 200, page
    assert admin.catalog.read_text() == before.replace("price: 149.00", "price: 139.5")
    [entry] = await admin.service.audit.recent()
    assert entry.target == "prompts/catalog.yaml"
    assert entry.summary == "product mobile-unlimited changed: price"
    assert entry.diff is not None
    assert "+    price: 139.5" in entry.diff


async def test_an_offer_whose_recording_does_not_exist_is_refused_beside_the_prompt(
    admin: Admin,
) -> None:
    before = admin.catalog.read_text()
    form = await admin.form("/admin/catalog", "offer-form")
    form.update(
        {
            "id": "summer",
            "name": "Summer deal",
            "prompt": "offer-summer",
            "valid_from": "2026-06-01",
            "valid_until": "2026-08-31",
            "products": "fibre-500",
        }
    )
    status, page = await admin.post("/admin/catalog/offers", form)
    assert status == 422
    assert "prompt 'offer-summer' has no en recording" in error_beside(page, "offer-prompt")
    assert admin.catalog.read_text() == before


async def test_dates_out_of_order_and_bad_prices_are_refused_beside_their_fields(
    admin: Admin,
) -> None:
    before = admin.catalog.read_text()
    form = await admin.form("/admin/catalog/offers/double-speed", "offer-form")
    form["valid_until"] = "2025-12-31"
    status, page = await admin.post("/admin/catalog/offers/double-speed", form)
    assert status == 422
    assert "valid_until is before valid_from" in page
    form = await admin.form("/admin/catalog/products/fibre-500", "product-form")
    form["price"] = "-5"
    status, page = await admin.post("/admin/catalog/products/fibre-500", form)
    assert status == 422
    assert error_beside(page, "product-price") == "a price cannot be negative"
    assert admin.catalog.read_text() == before


async def test_an_offer_of_an_unknown_product_is_refused_by_the_whole_config_check(
    admin: Admin,
) -> None:
    before = admin.catalog.read_text()
    form = await admin.form("/admin/catalog/offers/double-speed", "offer-form")
    form["products"] = "fibre-500, fibre-9000"
    status, page = await admin.post("/admin/catalog/offers/double-speed", form)
    assert status == 422
    assert 'id="form-errors"' in page
    assert "offers.double-speed.products.1: unknown product &#x27;fibre-9000&#x27;" in page
    assert admin.catalog.read_text() == before


async def test_a_new_product_with_an_existing_recording_is_added(admin: Admin) -> None:
    form = await admin.form("/admin/catalog", "product-form")
    form.update({"id": "tv-box", "name": "TV box", "price": "20", "prompt": "no-offers"})
    status, page = await admin.post("/admin/catalog/products", form)
    assert status == 200, page
    text = admin.catalog.read_text()
    assert "  tv-box:\n    name: TV box\n    price: 20\n    prompt: no-offers\n" in text
    assert text.startswith("# The price/offer catalog")

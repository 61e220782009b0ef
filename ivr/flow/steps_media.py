"""Steps that only play: a prompt, a catalog message, a goodbye."""

from __future__ import annotations

import logging

from ivr.catalog import Product
from ivr.flow.context import CallContext, Transition
from ivr.flow.nodes import CatalogStep, HangupStep, PlayStep
from ivr.flow.state import WellKnown

log = logging.getLogger("ivr.flow")


async def run_play(step: PlayStep, ctx: CallContext) -> Transition:
    await ctx.play_all(step.prompt)
    return Transition(step.next, "played")


async def run_catalog(step: CatalogStep, ctx: CallContext) -> Transition:
    catalog = ctx.flow.catalog
    if step.show == "offers":
        today = ctx.flow.calendar.today(ctx.now())
        offers = catalog.offers_on(today, step.max_offers)
        if not offers:
            await ctx.play(step.empty_prompt)
            return Transition(step.next, f"no offer valid on {today.isoformat()}")
        await ctx.play_all(offer.prompt for _, offer in offers)
        return Transition(step.next, "offers " + ", ".join(offer_id for offer_id, _ in offers))
    key, found, how = _chosen(step, ctx)
    if found is None:
        log.info("call %s: no catalog product for %r", ctx.call_id, key)
        await ctx.play(step.empty_prompt)
        return Transition(step.next, f"no product for {key!r}")
    product_id, product = found
    ctx.state.attributes[WellKnown.PRODUCT] = product_id
    await ctx.play(product.prompt)
    price = f"{product.price} {catalog.currency_of(product)}" + (f", {how}" if how else "")
    return Transition(step.next, f"price of {product_id} ({price})")


def _chosen(
    step: CatalogStep, ctx: CallContext
) -> tuple[str | None, tuple[str, Product] | None, str]:
    """The product to price (its key and what the catalog has for it) and how the caller
    chose it ("" when the flow did): the step's own; else the attribute's value (a menu's
    choice); when that is empty, the product the caller named (the classifier's entity,
    else a catalog name said loosely), else the one the catalog gives for the call's
    intent ("how much is it?")."""
    attributes, catalog = ctx.state.attributes, ctx.flow.catalog
    chosen = step.product or attributes.get(step.product_attribute or "")
    if chosen:
        return chosen, catalog.product(chosen), ""
    named = attributes.get(WellKnown.ENTITY_PREFIX + "product")
    if named and (found := catalog.product(named)) is not None:
        return named, found, "named"
    said = attributes.get(WellKnown.TRANSCRIPT)
    loosely = ctx.flow.products.find(said) if said else None  # only when nothing else named
    if loosely and (found := catalog.product(loosely)) is not None:
        return loosely, found, "named loosely"
    intent = attributes.get(WellKnown.INTENT)
    if intent and (found := catalog.product(intent)) is not None:
        return intent, found, f"for {intent}"
    return None, None, ""


async def run_hangup(step: HangupStep, ctx: CallContext) -> Transition:
    await ctx.play(step.prompt)
    await ctx.session.hangup()
    return Transition(None, "hung up", ending="hangup")

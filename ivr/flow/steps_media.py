"""Steps that only play: a prompt, a catalog message, a goodbye."""

from __future__ import annotations

import logging

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
    key, how = _chosen(step, ctx)
    found = catalog.product(key) if key else None
    if found is None:
        log.info("call %s: no catalog product for %r", ctx.call_id, key)
        await ctx.play(step.empty_prompt)
        return Transition(step.next, f"no product for {key!r}")
    product_id, product = found
    ctx.state.attributes[WellKnown.PRODUCT] = product_id
    await ctx.play(product.prompt)
    price = f"{product.price} {catalog.currency_of(product)}" + (f", {how}" if how else "")
    return Transition(step.next, f"price of {product_id} ({price})")


def _chosen(step: CatalogStep, ctx: CallContext) -> tuple[str | None, str]:
    """The product to price and how the caller chose it ("" when the flow did): the step's
    own; else the attribute's value (a menu's choice); when that is empty, the product the
    caller named (the classifier's entity, else a catalog name said loosely), else the one
    the catalog gives for the call's intent ("how much is it?")."""
    if step.product is not None:
        return step.product, ""
    attributes, catalog = ctx.state.attributes, ctx.flow.catalog
    chosen = attributes.get(step.product_attribute or "")
    if chosen:
        return chosen, ""
    named = attributes.get(WellKnown.ENTITY_PREFIX + "product")
    if named and catalog.product(named) is not None:
        return named, "named"
    said = attributes.get(WellKnown.TRANSCRIPT)
    loosely = ctx.flow.products.find(said) if said else None
    if loosely is not None:
        return loosely, "named loosely"
    intent = attributes.get(WellKnown.INTENT)
    if intent and catalog.product(intent) is not None:
        return intent, f"for {intent}"
    return None, ""


async def run_hangup(step: HangupStep, ctx: CallContext) -> Transition:
    await ctx.play(step.prompt)
    await ctx.session.hangup()
    return Transition(None, "hung up", ending="hangup")

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
    key = step.product
    if key is None and step.product_attribute is not None:
        key = ctx.state.attributes.get(step.product_attribute)
    found = catalog.product(key) if key else None
    if found is None:
        log.info("call %s: no catalog product for %r", ctx.call_id, key)
        await ctx.play(step.empty_prompt)
        return Transition(step.next, f"no product for {key!r}")
    product_id, product = found
    ctx.state.attributes[WellKnown.PRODUCT] = product_id
    await ctx.play(product.prompt)
    price = f"{product.price} {catalog.currency_of(product)}"
    return Transition(step.next, f"price of {product_id} ({price})")


async def run_hangup(step: HangupStep, ctx: CallContext) -> Transition:
    await ctx.play(step.prompt)
    await ctx.session.hangup()
    return Transition(None, "hung up", ending="hangup")

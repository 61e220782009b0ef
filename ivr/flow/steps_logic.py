"""Steps that decide without the caller: set, branch, goto, lookup."""

from __future__ import annotations

import datetime as dt

from ivr.callers import CallerProfile
from ivr.flow.context import CallContext, Transition
from ivr.flow.fields import WEEKDAYS, parse_window
from ivr.flow.nodes import BranchStep, Condition, GotoStep, LookupStep, SetStep
from ivr.flow.state import WellKnown

DAY_S = 86400.0


async def run_set(step: SetStep, ctx: CallContext) -> Transition:
    await ctx.set_attributes(step.values, source="flow")
    return Transition(step.next, "set " + ", ".join(step.values))


async def run_goto(step: GotoStep, ctx: CallContext) -> Transition:
    return Transition(step.target, f"-> {step.target}")


async def run_branch(step: BranchStep, ctx: CallContext) -> Transition:
    for index, case in enumerate(step.cases):
        if holds(case, ctx):
            return Transition(case.goto, f"case {index + 1} -> {case.goto}")
    return Transition(step.default, f"default -> {step.default}")


def holds(condition: Condition, ctx: CallContext) -> bool:
    """Every test the condition gives holds for this call, now."""
    now = ctx.now()
    calendar = ctx.flow.calendar
    attributes = ctx.state.attributes
    local = calendar.local(now)
    checks = (
        condition.open is None or calendar.is_open(now) == condition.open,
        condition.holiday is None or (calendar.holiday(now) is not None) == condition.holiday,
        condition.time is None or _within(condition.time, local.time().replace(tzinfo=None)),
        not condition.weekdays or WEEKDAYS[local.weekday()] in condition.weekdays,
        not condition.language or ctx.language in condition.language,
        not condition.intent or attributes.get(WellKnown.INTENT) in condition.intent,
        all(
            attributes.get(name) in ((want,) if isinstance(want, str) else want)
            for name, want in condition.attributes.items()
        ),
        all(
            (ctx.state.number(name) or float("-inf")) >= least
            for name, least in condition.at_least.items()
        ),
        all(attributes.get(name) for name in condition.present),
        not any(attributes.get(name) for name in condition.missing),
    )
    return all(checks)


def _within(window: str, now: dt.time) -> bool:
    start, end = parse_window(window)
    if end is None:
        return start <= now
    if end <= start:  # past midnight
        return now >= start or now < end
    return start <= now < end


async def run_lookup(step: LookupStep, ctx: CallContext) -> Transition:
    callers = ctx.services.callers
    profile: CallerProfile | None = None
    if step.by == "caller_id":
        number = ctx.caller_number
        profile = await callers.find_by_phone(number) if number else None
        key = "caller id" if number else "no caller id"
    else:
        account = ctx.state.attributes.get(step.account_attribute)
        profile = await callers.find_by_account(account) if account else None
        key = "account" if account else f"no {step.account_attribute}"
    if profile is None:
        return Transition(step.next, f"{key}: not found")
    await _apply(profile, step, ctx)
    return Transition(step.found or step.next, f"{key}: customer {profile.customer_id}")


async def _apply(profile: CallerProfile, step: LookupStep, ctx: CallContext) -> None:
    k = WellKnown
    values = {
        k.CUSTOMER_ID: profile.customer_id,
        k.CUSTOMER_NAME: profile.name,
        k.TIER: profile.tier,
        k.OPEN_ISSUES: str(profile.open_issues),
        k.RECENT_CONTACTS: str(profile.recent_contacts),
        k.LAST_AGENT: profile.last_agent,
        k.TAGS: ",".join(sorted(profile.tags)) or None,
    }
    if profile.last_contact_at is not None:
        days = (ctx.now() - profile.last_contact_at).total_seconds() / DAY_S
        values[k.DAYS_SINCE_LAST_CONTACT] = f"{max(days, 0.0):.2f}"
    ctx.state.attributes.update({name: value for name, value in values.items() if value})
    language = profile.language
    chosen = ctx.state.attributes.get(k.LANGUAGE_SOURCE) == "caller"
    spoken = ctx.flow.settings.all_languages
    if step.use_language and language in spoken and not chosen:
        await ctx.set_language(language, source="profile")

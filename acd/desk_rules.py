"""What the agent desktop offers and refuses, as admins set it in agents.yaml (and a queue's
own disposition codes in queues.yaml): pause reasons with their limits, wrap-up disposition
codes, canned chat responses per language. Pure decisions; the service and the pages ask.

* **Pause reasons.** With reasons configured an agent pauses for one of them only (a
  supervisor's pause and the system's own, "no answer", "disconnected", are not limited).
  A reason's ``per_day``: how many times an agent may take it in a day (the next is refused
  with the reason why); ``max_s``: how long one pause of it should last (a longer one goes
  on, flagged on the agent's and the supervisor's pages). No reasons configured: free text.
* **Dispositions.** A queue's own codes, else the file's; none configured: free text.
* **Canned responses.** A key ("greeting", typed as ``/greeting`` in a reply box) with a
  text per language; ``{customer_name}``, ``{agent_name}`` and ``{queue}`` are filled in for
  the conversation at hand.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from acd.agent_events import AgentError

__all__ = [
    "PLACEHOLDERS",
    "CannedResponse",
    "DeskRules",
    "PauseRefused",
    "PauseRule",
    "fill",
    "placeholders_in",
]

#: What a canned response may name, filled for the conversation at hand.
PLACEHOLDERS = frozenset({"customer_name", "agent_name", "queue"})


class PauseRefused(AgentError):
    """An agent's own pause the rules refuse (an unknown reason, a daily count used up)."""


@dataclass(frozen=True, slots=True)
class PauseRule:
    #: one pause of this reason should last at most this long (None: no limit)
    max_s: float | None = None
    #: an agent may take it this many times a day (None: no limit)
    per_day: int | None = None


@dataclass(frozen=True, slots=True)
class CannedResponse:
    key: str
    #: language -> text with placeholders
    texts: Mapping[str, str]

    def text_in(self, language: str | None, fallback: str = "en") -> str | None:
        """The text in ``language``, else in ``fallback``, else the first one written."""
        for lang in (language, fallback):
            if lang is not None and lang in self.texts:
                return self.texts[lang]
        return next(iter(self.texts.values()), None)


def placeholders_in(template: str) -> set[str]:
    """The placeholder names a template uses; raises ``ValueError`` for a malformed one."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, values: Mapping[str, str | None]) -> str:
    """The template with its placeholders filled (an unknown value: left empty)."""
    known = _Blank({k: v for k, v in values.items() if v})
    try:
        return string.Formatter().vformat(template, (), known).strip()
    except (ValueError, IndexError, AttributeError, KeyError):
        return template  # validated at load; a text that is not a template stays as written


@dataclass(frozen=True, slots=True)
class DeskRules:
    #: reason -> its limits, in the order the agent's select lists them
    pause_reasons: Mapping[str, PauseRule] = field(default_factory=lambda: MappingProxyType({}))
    dispositions: tuple[str, ...] = ()
    #: queue -> its own codes (before ``dispositions``)
    queue_dispositions: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    canned: tuple[CannedResponse, ...] = ()

    # pauses ------------------------------------------------------------------------------
    def pause_refusal(self, reason: str, taken_today: int) -> str | None:
        """Why an agent may not pause for ``reason`` now, having taken it ``taken_today``
        times today (None: they may)."""
        if not reason.strip():
            return "say why you pause"
        if not self.pause_reasons:
            return None
        rule = self.pause_reasons.get(reason)
        if rule is None:
            return f"{reason!r} is not a pause reason here ({', '.join(self.pause_reasons)})"
        if rule.per_day is not None and taken_today >= rule.per_day:
            times = "once" if rule.per_day == 1 else f"{rule.per_day} times"
            return f"{reason} may be taken {times} a day, and you have taken it today"
        return None

    def pause_max_s(self, reason: str | None) -> float | None:
        rule = None if reason is None else self.pause_reasons.get(reason)
        return None if rule is None else rule.max_s

    def pause_over(self, reason: str | None, paused_s: float) -> bool:
        """Has a pause of ``reason`` lasted past its ``max_s``?"""
        limit = self.pause_max_s(reason)
        return limit is not None and paused_s > limit

    # dispositions ------------------------------------------------------------------------
    def dispositions_for(self, queue: str | None) -> tuple[str, ...]:
        if queue is not None and queue in self.queue_dispositions:
            return self.queue_dispositions[queue]
        return self.dispositions

    def disposition_refusal(self, queue: str | None, code: str | None) -> str | None:
        """Why ``code`` is not a disposition of ``queue``'s contacts (None: it is, or none
        is configured there and any text goes; no code at all is always allowed)."""
        if code is None or code == "":
            return None
        codes = self.dispositions_for(queue)
        if codes and code not in codes:
            return f"{code!r} is not a disposition code here ({', '.join(codes)})"
        return None

    # canned responses --------------------------------------------------------------------
    def canned_for(
        self, language: str | None, values: Mapping[str, str | None]
    ) -> list[dict[str, str]]:
        """Every canned response in ``language`` (or English, or its first), filled."""
        shown = []
        for response in self.canned:
            text = response.text_in(language)
            if text is not None:
                shown.append({"key": response.key, "text": fill(text, values)})
        return shown

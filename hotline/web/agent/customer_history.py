"""A customer as the agent's page shows them beside a task (a call's screen-pop, a chat's or
an e-mail's card): who they are (identities, tier), their open issues and their timeline on
every channel, agents' ids shown with their names; the task's own contact marked
``current`` in the timeline and left out of the open issues."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from history.records import Customer, Interaction, to_json
from history.repository import HistoryRepository

__all__ = ["ENTRIES", "customer_history"]

#: Timeline entries and open issues shown.
ENTRIES = 10


async def customer_history(
    repository: HistoryRepository,
    customer: Customer,
    names: Mapping[str, str],
    current: tuple[str, ...],
) -> dict[str, Any]:
    """``current``: the task's idempotency key / external id (a call's), or its
    interaction's id as text (a conversation's)."""

    def is_current(interaction: Interaction) -> bool:
        ids = (interaction.idempotency_key, interaction.external_id, str(interaction.id))
        return any(i in current for i in ids if i)

    timeline = await repository.timeline(customer.id, limit=ENTRIES)
    issues = await repository.open_issues(customer.id, limit=ENTRIES)
    return {
        "customer": to_json(customer),
        "timeline": [
            {
                **to_json(entry),
                "agent_name": names.get(entry.interaction.agent or "", entry.interaction.agent),
                "current": is_current(entry.interaction),
                # a wrap-up note's author is "agent:<id>": the agent's name beside it
                "note_authors": [
                    names.get(note.author.removeprefix("agent:"), note.author)
                    for note in entry.notes
                ],
            }
            for entry in timeline.entries
        ],
        "open_issues": [
            {**to_json(issue), "agent_name": names.get(issue.agent or "", issue.agent)}
            for issue in issues
            if not is_current(issue)
        ],
    }

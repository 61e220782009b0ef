"""Typed errors of the history store: each says what was refused and why.

Messages mask phone numbers and e-mail addresses (they end up in logs); the full value is
kept on the exception for the caller that needs it.
"""

from __future__ import annotations

from history.masking import mask_identity


class HistoryError(Exception):
    """Base of every refusal by the repository (bad input or a state conflict, not an outage)."""


class InvalidIdentity(HistoryError, ValueError):
    def __init__(self, kind: str, value: str, reason: str) -> None:
        self.kind, self.value, self.reason = kind, value, reason
        super().__init__(f"{kind} {mask_identity(kind, value)!r} refused: {reason}")


class IdentityConflict(HistoryError):
    """The identity is already held by another customer (merge them if they are one person)."""

    def __init__(self, kind: str, value: str, customer_id: int) -> None:
        self.kind, self.value, self.customer_id = kind, value, customer_id
        super().__init__(
            f"{kind} {mask_identity(kind, value)} already belongs to customer {customer_id}"
        )


class UnknownCustomer(HistoryError, LookupError):
    def __init__(self, customer_id: int) -> None:
        self.customer_id = customer_id
        super().__init__(f"no customer {customer_id}")


class UnknownInteraction(HistoryError, LookupError):
    def __init__(self, reference: str) -> None:
        self.reference = reference
        super().__init__(f"no interaction {reference}")


class InvalidMerge(HistoryError):
    pass


class InvalidCursor(HistoryError, ValueError):
    def __init__(self) -> None:
        super().__init__("the timeline cursor is not one this store handed out")

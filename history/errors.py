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


class NotAConversation(HistoryError, LookupError):
    """The interaction exists but is not on a messaging channel (a call has no messages)."""

    def __init__(self, interaction_id: int, channel: str) -> None:
        self.interaction_id, self.channel = interaction_id, channel
        super().__init__(f"interaction {interaction_id} is a {channel} contact, not a conversation")


class UnknownMessage(HistoryError, LookupError):
    def __init__(self, message_id: int, conversation_id: int) -> None:
        self.message_id, self.conversation_id = message_id, conversation_id
        super().__init__(f"no message {message_id} in conversation {conversation_id}")


class UnknownAttachment(HistoryError, LookupError):
    def __init__(self, attachment_id: int, message_id: int) -> None:
        self.attachment_id, self.message_id = attachment_id, message_id
        super().__init__(f"no attachment {attachment_id} on message {message_id}")


class ConversationConflict(HistoryError):
    """The idempotency key names a conversation of another customer or channel."""


class TooLarge(HistoryError, ValueError):
    """Over a configured cap: ``what`` was ``size``, at most ``limit`` is kept."""

    def __init__(self, what: str, size: int, limit: int, unit: str) -> None:
        self.what, self.size, self.limit, self.unit = what, size, limit, unit
        super().__init__(f"{what} is {size} {unit}; at most {limit} are kept")


class MessageTooLarge(TooLarge):
    pass


class AttachmentTooLarge(TooLarge):
    pass


class InvalidAttachment(HistoryError, ValueError):
    """A file the attachment store refuses (an empty name after sanitising, a bad type)."""


class AttachmentMissing(HistoryError):
    """An attachment's file is not in the store (or not what was stored): a fault of the
    store's disk, not of the request."""

    def __init__(self, storage_ref: str, reason: str) -> None:
        self.storage_ref = storage_ref
        super().__init__(f"attachment file {storage_ref} {reason}")

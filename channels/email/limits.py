"""What an inbound message may be, and the record of what was not accepted.

The limits bound the work a stranger can make the service do: a message's bytes (the SMTP
``SIZE``), its header bytes, its MIME parts and their nesting (a MIME bomb), its attachments,
the text it yields. Past a limit the message is still accepted with what fits, and the rest
is noted as a ``Refusal``; only what cannot be accepted at all raises ``MailRefused``.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class MailLimits:
    #: the whole message as received; also the SMTP server's advertised SIZE (the usual 25 MiB)
    max_message_bytes: int = 25 * MIB
    #: all header sections together (the top one over it refuses the message; Exchange's cap)
    max_header_bytes: int = 256 * KIB
    #: MIME parts read (containers included); the rest of the message is not parsed
    max_parts: int = 200
    #: nesting of multipart and message parts below the top (deeper ones are not opened)
    max_depth: int = 12
    #: one attachment, decoded; a larger one is dropped and noted
    max_attachment_bytes: int = 15 * MIB
    #: attachments kept; later ones are dropped and noted
    max_attachments: int = 30
    #: the plain-text body kept (characters, after HTML is turned to text)
    max_body_chars: int = 200_000
    #: HTML read to find the text (an HTML body is several times its text)
    max_html_chars: int = 2_000_000
    #: addresses kept per address header (To, Cc, Reply-To)
    max_addresses: int = 100
    #: message ids kept from References (the newest)
    max_references: int = 100

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"mail limit {name} must be a positive integer, not {value!r}")


class MailRefused(Exception):
    """A message that cannot be accepted at all; ``reason`` is safe to send to the peer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Refusal:
    """Something in an accepted message that was left out, and why."""

    what: str  # "attachment 'x.zip'", "part 14", "body", "header To"
    reason: str

    def __str__(self) -> str:
        return f"{self.what}: {self.reason}"

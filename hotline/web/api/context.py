"""What the API's handlers work with: the store, the spooling writer, the conversations (and
who routes them), and the settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from history.conversations import ConversationIntake, Conversations
from history.repository import HistoryRepository
from history.writer import HistoryWriter
from hotline.web.api.idempotency import IdempotencyStore
from hotline.web.api.rate_limit import RateLimits


@dataclass(frozen=True)
class ApiSettings:
    #: Above the store's own caps (a 1,000,000-character transcript, JSON-escaped).
    max_body_bytes: int = 4 * 1024 * 1024
    #: What a 503 tells clients to wait before retrying.
    retry_after_s: int = 5
    #: A token checked this recently is not looked up again: the delay before a revocation
    #: takes effect (0: every request looks its token up, so a revocation is at once).
    token_fresh_s: float = 0.0
    #: Requests per token and per client address (429 beyond them); None: no limits.
    rate_limits: RateLimits | None = None
    #: The rate limits' clock (monotonic seconds), for tests.
    rate_clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    #: While the store is down, a token checked this recently is still trusted.
    token_stale_s: float = 3600.0
    #: The live tokens on disk, for a restart during an outage (``token_snapshot``).
    token_snapshot: Path | None = None


@dataclass(frozen=True)
class ApiServices:
    repository: HistoryRepository
    #: Spools interaction appends while the store is down (202); without it they get 503.
    writer: HistoryWriter | None
    idempotency: IdempotencyStore
    settings: ApiSettings
    conversations: Conversations
    #: Routes new conversations and messages (the ACD's channel adapters); None: nobody.
    intake: ConversationIntake | None = None

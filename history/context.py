"""What every repository operation needs besides its session: identity rules and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from history.identities import IdentityNormaliser

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Context:
    identities: IdentityNormaliser = field(default_factory=IdentityNormaliser)
    clock: Clock = utc_now

    def now(self) -> datetime:
        moment = self.clock()
        if moment.tzinfo is None:
            raise ValueError("the history clock must return aware datetimes")
        return moment.astimezone(UTC)

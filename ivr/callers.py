"""Who is calling: caller ID or an account number -> the customer's profile.

The flow asks a ``CallerDirectory``; it never touches the store. ``InMemoryDirectory`` serves
the demo and tests; ``HistoryDirectory`` reads the shared customer history
(``history.repository.HistoryRepository``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from history.errors import UnknownCustomer
from history.repository import HistoryRepository

log = logging.getLogger(__name__)

__all__ = ["CallerDirectory", "CallerProfile", "HistoryDirectory", "InMemoryDirectory"]


@dataclass(frozen=True)
class CallerProfile:
    customer_id: str
    name: str | None = None
    tier: str | None = None
    language: str | None = None
    open_issues: int = 0
    #: Contacts on any channel in the directory's recent window (a repeat caller if > 0).
    recent_contacts: int = 0
    last_contact_at: dt.datetime | None = None
    last_agent: str | None = None
    tags: frozenset[str] = frozenset()


class CallerDirectory(Protocol):
    async def find_by_phone(self, number: str) -> CallerProfile | None: ...
    async def find_by_account(self, account: str) -> CallerProfile | None: ...


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


class InMemoryDirectory:
    """Profiles by phone number and by account. Numbers are compared on their last 9 digits,
    so ``0612345678``, ``+33612345678`` and ``0033 6 12 34 56 78`` are one caller."""

    def __init__(
        self,
        profiles: Iterable[tuple[CallerProfile, Iterable[str], Iterable[str]]] = (),
    ) -> None:
        """``profiles``: (profile, phone numbers, account numbers) triples."""
        self._by_phone: dict[str, CallerProfile] = {}
        self._by_account: dict[str, CallerProfile] = {}
        for profile, phones, accounts in profiles:
            self.add(profile, phones=phones, accounts=accounts)

    def add(
        self, profile: CallerProfile, *, phones: Iterable[str] = (), accounts: Iterable[str] = ()
    ) -> None:
        for phone in phones:
            self._by_phone[_digits(phone)[-9:]] = profile
        for account in accounts:
            self._by_account[account] = profile

    async def find_by_phone(self, number: str) -> CallerProfile | None:
        digits = _digits(number)
        return self._by_phone.get(digits[-9:]) if len(digits) >= 6 else None

    async def find_by_account(self, account: str) -> CallerProfile | None:
        return self._by_account.get(account)


class HistoryDirectory:
    """Profiles from the customer history. A store outage is logged and answered with None:
    the caller is treated as unknown and the call goes on.

    Accounts: the history has no "account" identity kind yet, so ``find_by_account`` looks in
    ``accounts`` (account -> customer id), given by whoever knows the mapping, and answers
    None otherwise.
    """

    def __init__(
        self,
        repository: HistoryRepository,
        *,
        recent_days: float = 7.0,
        accounts: Mapping[str, int] | None = None,
    ) -> None:
        self._repository = repository
        self._recent_days = recent_days
        self._accounts = dict(accounts or {})

    async def find_by_phone(self, number: str) -> CallerProfile | None:
        """The caller ID's customer: a number, an extension or a SIP user is looked up as
        the identity it is (``history.identities``); a withheld one is nobody."""
        identity = self._repository.identities.caller_identity(number)
        if identity is None:
            return None  # withheld
        try:
            customer = await self._repository.find_customer(*identity)
            return None if customer is None else await self._profile(customer.id)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("caller lookup failed (history store unavailable): %s", exc)
            return None

    async def find_by_customer(self, customer_id: int) -> CallerProfile | None:
        """A known customer's profile (a conversation's, whoever opened it)."""
        try:
            return await self._profile(customer_id)
        except (SQLAlchemyError, OSError, UnknownCustomer) as exc:
            log.warning("customer lookup failed: %s", exc)
            return None

    async def find_by_account(self, account: str) -> CallerProfile | None:
        customer_id = self._accounts.get(account)
        if customer_id is None:
            return None
        try:
            return await self._profile(customer_id)
        except (SQLAlchemyError, OSError, UnknownCustomer) as exc:
            log.warning("account lookup failed: %s", exc)
            return None

    async def _profile(self, customer_id: int) -> CallerProfile:
        repository = self._repository
        customer = await repository.get_customer(customer_id)
        open_issues = await repository.open_issues(customer.id)
        recent = await repository.recent_contacts(customer.id, days=self._recent_days)
        last = await repository.last_agent(customer.id)
        return CallerProfile(
            customer_id=str(customer.id),
            name=customer.name,
            tier=customer.tier,
            language=customer.language,
            open_issues=len(open_issues),
            recent_contacts=len(recent),
            last_contact_at=max((i.started_at for i in recent), default=None),
            last_agent=last.agent if last is not None else None,
            tags=frozenset(customer.tags),
        )

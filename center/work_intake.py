"""What the voicemail and follow-up channels share: whose work it is, and writing it in the
background without losing it to a store that is down for a moment.

``WorkIntake.submit`` runs one piece of work (store a voicemail, a follow-up) as an owned
task, never on a call's or the dialler's path: a store error (the database down, a full
disk) is retried with back-off, ``RETRIES`` times, then logged with what was lost; any
other error is logged at once (the same input would fail again). ``close`` lets work in
progress finish for a grace period and cancels the rest.

``WorkIntake.owner`` says who a contact is with: the customer the IVR found, else the
holder of the caller ID (a stranger becomes a new customer, as on every channel), else,
for a withheld number, a new customer with no identity (made once per piece of work, so a
retry does not make a second one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from history.conversations import Conversations
from history.inputs import IdentityIn, NewCustomer

log = logging.getLogger(__name__)

__all__ = ["RETRIES", "Owner", "WorkIntake"]

#: Tries of one piece of work while the store fails, and the first pause between them
#: (doubling: 1 + 2 + 4 + ... about 8.5 minutes in all).
RETRIES = 10
FIRST_PAUSE_S = 1.0
#: What a store that is down (or a full disk) raises: worth trying again.
STORE_ERRORS = (SQLAlchemyError, OSError)


@dataclass
class Owner:
    """Who a piece of work is for: ``customer_id`` or ``identity`` (as ``NewConversation``
    takes them), found once and kept across tries."""

    customer_id: int | None = None
    identity: IdentityIn | None = None


class WorkIntake:
    def __init__(
        self,
        conversations: Conversations,
        *,
        retries: int = RETRIES,
        first_pause_s: float = FIRST_PAUSE_S,
    ) -> None:
        self._store = conversations
        self._retries = retries
        self._first_pause_s = first_pause_s
        self._jobs: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        return len(self._jobs)

    def submit(self, name: str, work: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run ``work`` in the background (see the module's doc); ``name`` says what it is in
        the logs (no personal data)."""
        job = asyncio.get_running_loop().create_task(self._run(name, work), name=name)
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)
        return job

    async def settle(self) -> None:
        """Until every piece of work submitted so far is done (tests, shutdown)."""
        while self._jobs:
            await asyncio.gather(*self._jobs, return_exceptions=True)

    async def close(self, grace_s: float = 5.0) -> None:
        pending = list(self._jobs)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace_s)
        for job in late:
            log.error("%s: not stored before the service stopped", job.get_name())
            job.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def owner(
        self, owner: Owner, customer_id: str | int | None, identity: IdentityIn | None
    ) -> Owner:
        """Fill ``owner`` in (once): the IVR's customer (digits), else ``identity``, else a
        new customer with no identity."""
        if owner.customer_id is not None or owner.identity is not None:
            return owner
        if isinstance(customer_id, int) or (customer_id and customer_id.isdigit()):
            owner.customer_id = int(customer_id)
        elif identity is not None:
            owner.identity = identity
        else:
            made = await self._store.repository.create_customer(NewCustomer())
            owner.customer_id = made.id
        return owner

    async def _run(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        pause = self._first_pause_s
        for attempt in range(1, self._retries + 1):
            try:
                await work()
                return
            except STORE_ERRORS as error:
                if attempt == self._retries:
                    log.error("%s: given up after %d tries: %s", name, attempt, _said(error))
                    return
                log.warning("%s: the store failed (%s); again in %g s", name, _said(error), pause)
                await asyncio.sleep(pause)
                pause *= 2
            except Exception:  # the job's boundary: the same input would fail again
                log.exception("%s: failed", name)
                return


def _said(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__

"""A manager.conf user's `eventfilter=` lines, applied the way Asterisk's manager.c does.

Each line is a POSIX extended regular expression (`regcomp(REG_EXTENDED | REG_NOSUB)`), run
unanchored on the whole text of an event as it would be sent (`Event: X\\r\\nPrivilege: ...`);
a leading `!` puts it on the exclude list. With no filters every event passes; include filters
only: an event passes if one matches; exclude filters only: unless one matches; both: include
first, then exclude. Only events are filtered: action responses and the items of an
EventList (CoreShowChannel...) are written straight to the session, and so is the
FullyBooted that greets a login.

Python's `re` reads the ERE syntax filters use (literals, `. * + ? | () [] ^ $ {m,n}`) the
same way; POSIX bracket classes such as `[[:space:]]` are translated. A filter that does not
compile is refused here (Asterisk logs it and drops it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

EXCLUDE: Final = "!"

_CLASSES: Final = {
    "[:space:]": " \\t\\n\\r\\f\\v",
    "[:blank:]": " \\t",
    "[:digit:]": "0-9",
    "[:alpha:]": "A-Za-z",
    "[:alnum:]": "0-9A-Za-z",
    "[:upper:]": "A-Z",
    "[:lower:]": "a-z",
    "[:xdigit:]": "0-9A-Fa-f",
    "[:punct:]": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}
_CLASS: Final = re.compile("|".join(re.escape(name) for name in _CLASSES))


def posix_regex(pattern: str) -> re.Pattern[str]:
    """`pattern` (POSIX ERE, as in manager.conf) as a Python regex; ValueError if invalid."""
    try:
        return re.compile(_CLASS.sub(lambda m: _CLASSES[m.group()], pattern))
    except re.error as exc:
        raise ValueError(f"eventfilter {pattern!r} does not compile: {exc}") from None


class EventFilter:
    """Whether an event reaches a session, from that user's `eventfilter=` values."""

    def __init__(self, filters: Sequence[str] = ()) -> None:
        self.filters = tuple(filters)
        self._include: list[re.Pattern[str]] = []
        self._exclude: list[re.Pattern[str]] = []
        for line in self.filters:
            exclude = line.startswith(EXCLUDE)
            pattern = line[1:] if exclude else line
            if not pattern:
                raise ValueError(f"eventfilter {line!r} has no pattern")
            (self._exclude if exclude else self._include).append(posix_regex(pattern))

    def __bool__(self) -> bool:
        return bool(self.filters)

    def allows(self, event_text: str) -> bool:
        if self._include and not any(r.search(event_text) for r in self._include):
            return False
        return not any(r.search(event_text) for r in self._exclude)

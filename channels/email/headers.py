"""The header field names the e-mail channel reads and writes, each named once."""

from __future__ import annotations

MESSAGE_ID = "Message-ID"
IN_REPLY_TO = "In-Reply-To"
REFERENCES = "References"
FROM = "From"
REPLY_TO = "Reply-To"
TO = "To"
CC = "Cc"
SUBJECT = "Subject"
DATE = "Date"
AUTO_SUBMITTED = "Auto-Submitted"  # RFC 3834: "no" for a person's mail, else automatic
PRECEDENCE = "Precedence"  # bulk / junk / list: automatic mail by old convention
LIST_ID = "List-Id"  # RFC 2919: mail sent through a mailing list
AUTO_REPLY_MARKERS = ("X-Autoreply", "X-Autorespond")  # vacation responders' own marks
#: Precedence values that mark mail no person wrote for this reader.
AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})

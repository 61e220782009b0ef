"""The live tokens on disk, so a service restarted during a database outage can still tell
who is writing (and spool their writes, 202) instead of refusing everyone (503).

A JSON file beside the history spool, written atomically and readable by the service's
user only: each live token's SHA-256 (the store keeps the same; the secrets are never
anywhere), name, source and scopes, and when the list was read from the store. It is
rewritten from the store at start and at most every ``every_s`` while the store answers,
so a token revoked while the store is up leaves it within that time; while the store is
down it is only read, and trusted for as long as the API trusts a token it checked itself
(``token_stale_s``).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hotline.web.tokens import ApiToken, Scope

log = logging.getLogger(__name__)

FORMAT = "hotline.tokens/1"


@dataclass(frozen=True)
class Snapshot:
    saved_at: datetime
    tokens: dict[str, ApiToken]  # by hash


def save(path: Path, tokens: list[tuple[str, ApiToken]], now: datetime) -> None:
    body = {
        "format": FORMAT,
        "saved_at": now.isoformat(),
        "tokens": [
            {
                "hash": digest,
                "name": token.name,
                "source": token.source,
                "scopes": sorted(s.value for s in token.scopes),
                "created_at": token.created_at.isoformat(),
            }
            for digest, token in tokens
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(body, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


def load(path: Path) -> Snapshot | None:
    """The snapshot, or None when there is none (or it cannot be read: said once)."""
    try:
        body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if body.get("format") != FORMAT:
            raise ValueError(f"format {body.get('format')!r}")
        known = {s.value for s in Scope}
        tokens = {
            str(item["hash"]): ApiToken(
                name=str(item["name"]),
                source=str(item["source"]),
                scopes=frozenset(Scope(s) for s in item["scopes"] if s in known),
                created_at=datetime.fromisoformat(item["created_at"]),
                last_used_at=None,
                revoked_at=None,
            )
            for item in body["tokens"]
        }
        saved_at = datetime.fromisoformat(body["saved_at"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("token snapshot %s unreadable (%s): not used", path, error)
        return None
    return Snapshot(saved_at if saved_at.tzinfo else saved_at.replace(tzinfo=UTC), tokens)

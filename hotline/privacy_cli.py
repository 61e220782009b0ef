"""``hotline customer export|erase|access``: a customer's rights of access and erasure, and
the access log (who read which customer's data), from the shell.

Admin only by virtue of shell access to the service's config and store. Both go through
the repository, exactly like the API's ``/export`` and ``/erase``. Erasure cannot be undone,
so without ``--yes`` it only says what it would erase; it deletes the customer's attachment
files from the configured attachment store (``database.attachments``). ``export --files DIR``
copies those files beside the JSON (named by their SHA-256, as the export refers to them).
An export is itself recorded in the access log (``cli:`` and the shell's user name).
``access`` prints the access log as CSV or JSON, by customer, by reader and by time range.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from history.access_log import AccessLog, NewAccess, to_csv
from history.attachments import AttachmentStore
from history.errors import UnknownCustomer
from history.recordings import RecordingFiles
from history.repository import HistoryRepository
from history.spool import forget_rejected, rejected_path
from hotline.config import load_config
from hotline.tokens_cli import store_options, with_store
from hotline.web.api.admin import personal_values
from hotline.web.api.idempotency import IdempotencyStore


def register(subparsers: Any) -> None:
    customer = subparsers.add_parser("customer", help="export or erase a customer's data")
    actions = customer.add_subparsers(dest="customer_command", required=True, metavar="ACTION")

    export = actions.add_parser("export", help="everything held about a customer, as JSON")
    export.add_argument("customer_id", type=int, metavar="ID")
    export.add_argument(
        "--out", type=Path, metavar="FILE", help="write here (mode 0600) instead of stdout"
    )
    export.add_argument(
        "--files",
        type=Path,
        metavar="DIR",
        help="copy the customer's attachment files and call recordings here",
    )
    store_options(export)
    export.set_defaults(run=_export)

    erase = actions.add_parser(
        "erase", help="remove a customer's personal data, keep the KPIs (cannot be undone)"
    )
    erase.add_argument("customer_id", type=int, metavar="ID")
    erase.add_argument("--by", required=True, metavar="NAME", help="who erases (recorded)")
    erase.add_argument("--reason", required=True, metavar="TEXT", help="why (recorded)")
    erase.add_argument("--yes", action="store_true", help="really erase (otherwise: a dry run)")
    store_options(erase)
    erase.set_defaults(run=_erase)

    access = actions.add_parser(
        "access", help="the access log: who read which customer's data (CSV or JSON)"
    )
    access.add_argument("--customer", type=int, metavar="ID", help="reads of this customer")
    access.add_argument("--actor", metavar="NAME", help="reads by this user or token")
    access.add_argument("--since", type=_moment, metavar="TIME", help="ISO 8601, included")
    access.add_argument("--until", type=_moment, metavar="TIME", help="ISO 8601, excluded")
    access.add_argument("--format", choices=("csv", "json"), default="csv")
    access.add_argument("--out", type=Path, metavar="FILE", help="write here (mode 0600)")
    store_options(access)
    access.set_defaults(run=_access)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give the time zone (2027-01-31T00:00Z)")
    return moment


def _shell_user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _attachments(args: argparse.Namespace) -> AttachmentStore:
    """The configured attachment store (the config was validated by ``with_store``)."""
    return AttachmentStore(load_config(args.config).database.attachments)


def _recording_files(args: argparse.Namespace) -> RecordingFiles:
    """Where Asterisk writes call recordings (``recording.directory``): erasure deletes the
    customer's there."""
    return RecordingFiles(load_config(args.config).recording.directory)


def _export(args: argparse.Namespace) -> int:
    async def work(engine: AsyncEngine) -> int:
        try:
            exported = await HistoryRepository(engine).export_customer(args.customer_id)
        except UnknownCustomer as error:
            print(f"hotline customer export: {error}", file=sys.stderr)
            return 1
        await AccessLog(engine).record(
            [
                NewAccess(
                    actor=_shell_user()[:64],
                    actor_kind="cli",
                    role="shell",
                    customer_id=int(exported["customer"]["id"]),
                    what="exportCustomer",
                    route="hotline customer export",
                )
            ]
        )
        if args.files is not None:
            copied = await _copy_files(exported, _attachments(args), args.files)
            print(f"{copied} attachment files copied to {args.files}", file=sys.stderr)
            copied = await asyncio.to_thread(
                _copy_recordings, exported, _recording_files(args), args.files
            )
            print(f"{copied} call recordings copied to {args.files}", file=sys.stderr)
        text = json.dumps(exported, indent=2, ensure_ascii=False) + "\n"
        if args.out is None:
            sys.stdout.write(text)
        else:
            _write_private(args.out, text)
            print(f"customer {args.customer_id} exported to {args.out}", file=sys.stderr)
        return 0

    return with_store(args, work)


def _access(args: argparse.Namespace) -> int:
    async def work(engine: AsyncEngine) -> int:
        log, records, after = AccessLog(engine), [], 0
        while True:
            page = await log.query(
                customer_id=args.customer,
                actor=args.actor,
                since=args.since,
                until=args.until,
                after_id=after,
                limit=10_000,
            )
            records += page
            if len(page) < 10_000:
                break
            after = page[-1].id
        if args.format == "csv":
            text = to_csv(records)
        else:
            text = json.dumps([r.as_json() for r in records], indent=2, ensure_ascii=False) + "\n"
        if args.out is None:
            sys.stdout.write(text)
        else:
            _write_private(args.out, text)
            print(f"{len(records)} access records written to {args.out}", file=sys.stderr)
        return 0

    return with_store(args, work)


def _write_private(path: Path, text: str) -> None:
    """Personal data: readable by the owner only, and never a half-written file."""
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    partial.replace(path)


async def _copy_files(exported: dict[str, Any], store: AttachmentStore, into: Path) -> int:
    refs = {a["storage_ref"]: a["sha256"] for m in exported["messages"] for a in m["attachments"]}
    for ref, digest in refs.items():
        _write_private_bytes(into, digest, await store.read(ref))
    return len(refs)


def _copy_recordings(exported: dict[str, Any], files: RecordingFiles, into: Path) -> int:
    """Each recording still kept, as ``recording-<id>.wav`` (the export's ``id``)."""
    copied = 0
    for recording in exported["call_recordings"]:
        found = files.open_file(recording["path"] or "")
        if found is not None:
            _write_private_bytes(into, f"recording-{recording['id']}.wav", found.read_bytes())
            copied += 1
    return copied


def _write_private_bytes(directory: Path, name: str, data: bytes) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)


def _erase(args: argparse.Namespace) -> int:
    async def work(engine: AsyncEngine) -> int:
        repository = HistoryRepository(
            engine, attachments=_attachments(args), recording_files=_recording_files(args)
        )
        try:
            held = await repository.export_customer(args.customer_id)
        except UnknownCustomer as error:
            print(f"hotline customer erase: {error}", file=sys.stderr)
            return 1
        customer_id = int(held["customer"]["id"])
        if not args.yes:
            print(
                f"customer {customer_id} holds {len(held['customer']['identities'])} identities,"
                f" {len(held['interactions'])} interactions, {len(held['messages'])} messages"
                f" and {len(held['notes'])} notes."
                " Nothing was changed: add --yes to erase (it cannot be undone).",
                file=sys.stderr,
            )
            return 1
        await IdempotencyStore(engine).forget_customer(customer_id)
        customer = await repository.get_customer(customer_id)
        erasure = await repository.erase_customer(customer_id, by=args.by, reason=args.reason)
        # Not the journal itself: the running service owns it (and it drains on its own).
        journal = load_config(args.config).database.spool
        forget_rejected(rejected_path(journal), personal_values(customer))
        removed = " ".join(f"{k}={v}" for k, v in sorted(erasure.removed.items()))
        print(f"customer {customer_id} erased by {args.by!r}: removed {removed}")
        if erasure.recording_refs:  # voicemail, and call recordings it could not delete
            print("delete these recordings from the recording store:")
            for ref in erasure.recording_refs:
                print(f"  {ref}")
        return 0

    return with_store(args, work)

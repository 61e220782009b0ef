"""``hotline customer export|erase``: a customer's rights of access and erasure, from the shell.

Admin only by virtue of shell access to the service's config and store. Both go through
the repository, exactly like the API's ``/export`` and ``/erase``. Erasure cannot be undone,
so without ``--yes`` it only says what it would erase; it deletes the customer's attachment
files from the configured attachment store (``database.attachments``). ``export --files DIR``
copies those files beside the JSON (named by their SHA-256, as the export refers to them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from history.attachments import AttachmentStore
from history.errors import UnknownCustomer
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
        "--files", type=Path, metavar="DIR", help="copy the customer's attachment files here"
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


def _attachments(args: argparse.Namespace) -> AttachmentStore:
    """The configured attachment store (the config was validated by ``with_store``)."""
    return AttachmentStore(load_config(args.config).database.attachments)


def _export(args: argparse.Namespace) -> int:
    async def work(engine: AsyncEngine) -> int:
        try:
            exported = await HistoryRepository(engine).export_customer(args.customer_id)
        except UnknownCustomer as error:
            print(f"hotline customer export: {error}", file=sys.stderr)
            return 1
        if args.files is not None:
            copied = await _copy_files(exported, _attachments(args), args.files)
            print(f"{copied} attachment files copied to {args.files}", file=sys.stderr)
        text = json.dumps(exported, indent=2, ensure_ascii=False) + "\n"
        if args.out is None:
            sys.stdout.write(text)
        else:
            _write_private(args.out, text)
            print(f"customer {args.customer_id} exported to {args.out}", file=sys.stderr)
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


def _write_private_bytes(directory: Path, name: str, data: bytes) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)


def _erase(args: argparse.Namespace) -> int:
    async def work(engine: AsyncEngine) -> int:
        repository = HistoryRepository(engine, attachments=_attachments(args))
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
        if erasure.recording_refs:
            print("delete these recordings from the recording store:")
            for ref in erasure.recording_refs:
                print(f"  {ref}")
        return 0

    return with_store(args, work)

from __future__ import annotations

from pathlib import Path

from history.spool import UNREADABLE, Spool


def test_journal_entries_come_back_in_order_until_marked_applied(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    for i in range(3):
        spool.append("event.append", {"i": i})
    first, *rest = spool.pending()
    assert [e.data["i"] for e in [first, *rest]] == [0, 1, 2]
    spool.mark_applied(first)
    assert [e.data["i"] for e in spool.pending()] == [1, 2]
    assert not spool.reset_if_drained()
    for entry in spool.pending():
        spool.mark_applied(entry)
    assert spool.reset_if_drained()
    assert spool.empty
    assert (tmp_path / "spool.jsonl").stat().st_size == 0
    spool.close()


def test_replay_position_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    for i in range(3):
        spool.append("event.append", {"i": i})
    spool.mark_applied(spool.pending()[0])
    spool.close()
    reopened = Spool(tmp_path / "spool.jsonl")
    assert [e.data["i"] for e in reopened.pending()] == [1, 2]
    reopened.close()


def test_a_torn_last_line_from_a_crash_is_dropped_on_open(tmp_path: Path) -> None:
    path = tmp_path / "spool.jsonl"
    spool = Spool(path)
    spool.append("event.append", {"i": 0})
    spool.close()
    with open(path, "ab") as journal:
        journal.write(b'{"op":"event.append","da')
    reopened = Spool(path)
    assert [e.data for e in reopened.pending()] == [{"i": 0}]
    reopened.append("event.append", {"i": 1})
    assert [e.data for e in reopened.pending()] == [{"i": 0}, {"i": 1}]
    reopened.close()


def test_rejected_entries_are_kept_aside_with_their_reason(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append("note.add", {"body": "x"})
    spool.append("event.append", {"i": 1})
    bad, good = spool.pending()
    spool.reject(bad, "UnknownCustomer: no customer 9")
    assert spool.pending() == [good]
    assert b"no customer 9" in (tmp_path / "spool.jsonl.rejected").read_bytes()
    spool.close()


def test_an_unreadable_line_keeps_its_place_in_the_order(tmp_path: Path) -> None:
    path = tmp_path / "spool.jsonl"
    spool = Spool(path)
    spool.append("event.append", {"i": 0})
    spool._file.write(b"{not json}\n")
    spool.append("event.append", {"i": 2})
    assert [e.op for e in spool.pending()] == ["event.append", UNREADABLE, "event.append"]
    spool.close()

"""``hotline simulate`` as the CLI will call it."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from acd import simulate_cli

SCENARIO = Path(__file__).resolve().parents[2] / "acd" / "scenarios" / "heterogeneous.yaml"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hotline")
    simulate_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["simulate", *argv])


def test_json_output_has_simulation_and_erlang_c_kpis() -> None:
    out = io.StringIO()
    args = parse(
        "--agents", "4", "--erlangs", "3", "--aht", "60", "--calls", "2000", "--seed", "2", "--json"
    )
    assert args.run is simulate_cli.run
    assert simulate_cli.run(args, out) == 0
    data = json.loads(out.getvalue())
    for key in ("service_level", "asa", "p_wait", "abandon_rate", "occupancy"):
        assert isinstance(data[key], float)
        assert isinstance(data["erlang_c"][key], float)
    assert data["calls"] == 2000
    assert data["seed"] == 2


def test_table_output_prints_both_columns() -> None:
    out = io.StringIO()
    assert simulate_cli.run(parse("--calls", "500"), out) == 0
    text = out.getvalue()
    assert "erlang C" in text
    assert "service_level" in text


def test_with_patience_erlang_c_is_not_claimed() -> None:
    out = io.StringIO()
    simulate_cli.run(parse("--calls", "500", "--patience", "30", "--json"), out)
    data = json.loads(out.getvalue())
    assert data["erlang_c"] is None
    assert data["abandon_rate"] > 0


def test_nonsense_arguments_are_refused() -> None:
    assert simulate_cli.run(parse("--agents", "0"), io.StringIO()) == 2


def test_bad_scenario_file_is_refused_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "queues: {queues: {}}\nagents: []\ncall_types: [{name: x, share: 1, queue: nowhere}]\n"
    )
    assert simulate_cli.run(parse("--scenario", str(bad)), io.StringIO()) == 2
    assert "unknown queue 'nowhere'" in capsys.readouterr().err
    assert simulate_cli.run(parse("--scenario", str(tmp_path / "missing.yaml")), io.StringIO()) == 2


def test_scenario_file_runs_with_a_chosen_policy() -> None:
    out = io.StringIO()
    args = parse(
        "--scenario", str(SCENARIO), "--calls", "400", "--policy", "app_queue_linear", "--json"
    )
    assert simulate_cli.run(args, out) == 0
    data = json.loads(out.getvalue())
    assert data["policy"] == "app_queue_linear"
    assert data["erlang_c"] is None

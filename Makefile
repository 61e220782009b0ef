# Two commands do everything on a fresh machine:
#   make demo   - the whole service on the embedded default (SQLite, Asterisk emulator, web page)
#   make test   - lint, types and the whole test suite
PYTHON ?= python3
# The suite runs on this many pytest-xdist workers (one Asterisk each for tests/asterisk);
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo serve test lint bench clean

$(STAMP): pyproject.toml scripts/system-deps.sh
	bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/hotline demo $(ARGS)

serve: setup
	$(BIN)/hotline serve $(ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/hotline check-config --config config
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile $(ARGS)

# Quick mode: each bench prints CPU time beside wall time and its baseline, in the same run.
bench: setup
	$(BIN)/python bench/simulate_bench.py --quick
	$(BIN)/python bench/router_bench.py --quick
	$(BIN)/python bench/ami_codec_bench.py --quick
	$(BIN)/python bench/ami_client_bench.py --quick
	$(BIN)/python bench/fastagi_bench.py --quick
	$(BIN)/python bench/fastagi_bench.py --paced --commands 5
	$(BIN)/python bench/stack_bench.py --quick
	$(BIN)/python bench/web_bench.py --quick
	$(BIN)/python bench/history_write_bench.py --quick
	$(BIN)/python bench/history_bench.py --quick
	$(BIN)/python bench/cluster_bench.py --quick
	$(BIN)/python bench/conversation_relay_bench.py --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# Two commands a newcomer needs: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# Offline by design: a model or telemetry call that tries the network fails at once instead of hanging.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test ingest lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first, pinned: anything unpinned would pull a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

HOST ?= 127.0.0.1
PORT ?= 8000

# Build or update the index from corpus/ (unchanged documents are skipped in about a second), then serve.
run: setup
	$(BIN)/provider-assistant ingest corpus
	@echo "Serving on http://$(HOST):$(PORT)/ (widget demo), API docs at /docs-api"
	$(BIN)/provider-assistant serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest

ingest: setup
	$(BIN)/provider-assistant ingest corpus

lint: setup
	$(BIN)/ruff check . && $(BIN)/mypy assistant ingest evals server.py provider_assistant_cli.py

clean:
	rm -rf $(VENV) data .pytest_cache

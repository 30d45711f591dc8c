# The front door: `make serve` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
F5_TTS_VERSION := 1.1.22
PORT ?= 8000
OPENAI_PORT ?= 8880
STORAGE_URL ?= file://./data

.PHONY: install serve serve-openai test test-fast lint bytecode

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# --no-deps: f5-tts's own requirements pull gradio, which conflicts with runpod (see pyproject).
	$(BIN)/python -m pip install --quiet --no-deps f5-tts==$(F5_TTS_VERSION)
	# The packages just written (torch's libraries, gigabytes still in memory) go to disk now,
	# as part of the install, not in the kernel's write-back during the first half-minute of a run.
	sync
	touch $(STAMP)

# The web page's browser tests drive Debian's chromium (pip cannot download a browser here).
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	else echo "install Debian's chromium (apt-get install chromium) for the browser tests"; fi

install: $(STAMP) $(CHROMIUM)

serve: install
	STORAGE_URL=$(STORAGE_URL) LOG_FORMAT=$${LOG_FORMAT:-console} \
		$(BIN)/python -m entrypoints.runpod_handler --rp_serve_api --rp_api_host 127.0.0.1 --rp_api_port $(PORT)

# The OpenAI-compatible speech server (README "OpenAI-compatible server"), on loopback.
serve-openai: install
	STORAGE_URL=$(STORAGE_URL) LOG_FORMAT=$${LOG_FORMAT:-console} \
		$(BIN)/python -m entrypoints.openai_api --host 127.0.0.1 --port $(OPENAI_PORT)

# Three workers (pytest-xdist), each test file on one of them: a file's module-scoped servers and
# engines start once, and the tiny models are written once per run (tests/conftest.py), which
# also puts the files of slow tests first (xdist's own reorder would put them last). Three on a
# 2-core machine: part of the suite waits (worker start-ups, sockets), which the third fills; a
# fourth only adds contention.
PYTEST_PARALLEL ?= -n 3 --dist loadfile --no-loadscope-reorder

# The project's bytecode, compiled once before a run: under PYTHONDONTWRITEBYTECODE (set in some CI
# images) Python keeps nothing it compiles, so each of a run's ~45 processes (xdist's workers, the
# servers the tests start) compiled every module of ours it imported, again and again.
CODE := adapters application benchmarks domain entrypoints harness ports scripts tests container.py settings.py
bytecode: install
	$(BIN)/python -m compileall -q -j 0 $(CODE)

test: bytecode
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL)

test-fast: bytecode
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL) -m "not slow"

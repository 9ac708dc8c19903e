# Two commands on a fresh machine: `make chat` and `make test`. Both create (or reuse) .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A CPU build of torch lies on local disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: install chat ask test test-fast evals bench lint browser clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# Debian's chromium drives the browser tests (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; browser tests will be skipped"; }

chat: $(STAMP)
	$(BIN)/python app.py

ask: $(STAMP)
	$(BIN)/rag ask "Why do analysts doubt a Russia-Iran split?"

test: $(STAMP) browser
	$(BIN)/pytest tests evals

test-fast: $(STAMP)
	$(BIN)/pytest tests evals -m "not slow"

evals: $(STAMP)
	$(BIN)/pytest evals

bench: $(STAMP)
	$(BIN)/python bench/bench.py

lint: $(STAMP)
	$(BIN)/ruff check rag tests evals bench app.py
	$(BIN)/mypy rag app.py

clean:
	rm -rf $(VENV) .rag

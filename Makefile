# One place for every install and check step: the README, CI and developers all use these targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Re-install whenever the project's metadata changes.
STAMP_RUN  := $(VENV)/.stamp-run
STAMP_TEST := $(VENV)/.stamp-test
PYTEST_ARGS ?=

.PHONY: help install install-test demo test test-all lint format bench bench-quick clean chromium slurm

help:
	@echo "make demo       install into .venv and run the Rossmann search on synthetic data"
	@echo "make test       install test extras into .venv and run the default test suite"
	@echo "make test-all   also run the tests marked slow"
	@echo "make lint       ruff lint + format check"
	@echo "make bench      side-by-side benchmarks (quick mode); BENCH_ARGS=--full for all"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

# The extras the tests exercise for real (mlflow: a real local tracking store, read back).
# torch is pinned here, not in the package's metadata: these machines hold the CPU build of
# torch 2.13.0 on disk (pip find-links), and an unpinned torch pulls a multi-GB CUDA build.
TORCH_PIN := torch==2.13.0
$(STAMP_TEST): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet '$(TORCH_PIN)' -e '.[test,torch,cmaes,slurm,mlflow]'
	@touch $@ $(STAMP_RUN)

# $(call apt_install,COMMAND,PACKAGES,FOR,ELSE): when COMMAND is missing, install Debian's
# PACKAGES where we can (root with apt-get) for the tests named in FOR; elsewhere, or when that
# fails, say ELSE (those tests are skipped, with the install command).
apt_install = if ! command -v $(1) >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
	    && [ "$$(id -u)" = 0 ]; then \
	  echo "installing $(2) (apt-get) for $(3)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends $(2) >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 \
	       && apt-get install -y --no-install-recommends $(2) >/dev/null 2>&1; } \
	  || echo "$(2) could not be installed: $(4)"; \
	fi

# The report's browser test opens it in headless chromium.
chromium:
	@$(call apt_install,chromium,chromium,the report's browser test,the browser test will be skipped)

# The Slurm backend's tests start a real one-node Slurm (tests/cluster/slurm/one_node_slurm.py).
slurm:
	@$(call apt_install,slurmctld,slurm-wlm munge,the Slurm backend's tests,the Slurm tests will be skipped)

install: $(STAMP_RUN)
install-test: $(STAMP_TEST) chromium slurm

demo: $(STAMP_RUN)
	$(BIN)/daskcloud rossmann --preset small

test: $(STAMP_TEST) chromium slurm
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-all: $(STAMP_TEST) chromium slurm
	$(BIN)/python -m pytest -m "not kubernetes" $(PYTEST_ARGS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP_TEST)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

# Benchmarks report, they never assert; results go to benchmarks/results/, tables into docs/benchmarks.md.
STAMP_BENCH := $(VENV)/.stamp-bench
BENCH_ARGS ?= --quick

$(STAMP_BENCH): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@touch $@

bench: $(STAMP_BENCH)
	$(BIN)/python -m benchmarks all $(BENCH_ARGS) --write-docs

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache

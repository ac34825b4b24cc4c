# Two commands set everything up on a fresh machine with Python 3.11:  `make book`  and  `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.litlib-installed
SCALE  ?= cpu

.PHONY: help venv test lint book notebooks gpu-check clean

help:
	@echo "make book       build the book into _build/html, executing every chapter at LITLIB_SCALE=$(SCALE)"
	@echo "make test       lint, type-check and run the whole test suite (chapters at smoke scale)"
	@echo "make notebooks  regenerate the Colab notebooks (book/**/*.ipynb) from the MyST sources"
	@echo "make gpu-check  on a CUDA machine: compiled kernel tests and the kernel benchmarks"

# The environment is pinned in environment.yml; its pip lines are installed here (torch 2.13.0 is a CPU build on
# the project machines, so set-up never pulls a multi-GB CUDA build).
$(STAMP): environment.yml pyproject.toml tools/pip_pins.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(PYTHON) tools/pip_pins.py environment.yml > $(VENV)/requirements.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy litlib

test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

# The execution cache is keyed on litlib's sources, the pins and the scale: jupyter-cache alone hashes only cell
# source and would serve outputs computed with an older litlib. Sphinx's doctrees go too, or it would not re-read
# (and so not re-execute) unchanged pages.
book: $(STAMP)
	key=$$(cat environment.yml _ext/*.py $$(find litlib -name '*.py' | sort) | sha256sum | cut -c1-16)-$(SCALE); \
	if [ "$$(cat _build/.cache-key 2>/dev/null)" != "$$key" ]; then rm -rf _build/.jupyter_cache _build/claims _build/.doctrees _build/jupyter_execute; fi; \
	mkdir -p _build && echo "$$key" > _build/.cache-key
	LITLIB_SCALE=$(SCALE) LITLIB_CLAIMS_DIR=$(CURDIR)/_build/claims PATH=$(CURDIR)/$(BIN):$$PATH \
		$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "book built: _build/html/index.html"

notebooks: $(STAMP)
	$(BIN)/python -m litlib.book notebooks

gpu-check: $(STAMP)
	LITLIB_KERNELS_COMPILED=1 $(BIN)/python -m pytest -m kernel -q
	$(BIN)/python -m litlib.pararnn.benchmark

clean:
	rm -rf _build

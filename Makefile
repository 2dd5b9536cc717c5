# Everything a newcomer needs: `make demo` and `make test` work on a fresh machine with no AWS account.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs python3.12; use it locally when present (pyenv or system), else any python3 >= 3.11.
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; done)
PY312_BIN := $(shell dirname "$$(ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -1)" 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml layers/segmentation/requirements.txt | cksum | cut -d' ' -f1)
export AWS_DEFAULT_REGION ?= eu-west-1
# `sam build` looks for python3.12 on PATH.
export PATH := $(if $(PY312_BIN),$(PY312_BIN):,)$(PATH)

.PHONY: help venv demo serve test unit lint validate build bench deploy clean

help:
	@echo "make demo      set up and run the synthetic shop end to end on the local runtime"
	@echo "make test      set up and run every test that needs no AWS account (lint, template, unit, integration)"
	@echo "make serve     the REST API on http://127.0.0.1:3000 (like 'sam local start-api')"
	@echo "make bench     the performance suite"
	@echo "make build     sam build;  make deploy: sam deploy --guided"

$(STAMP): pyproject.toml layers/segmentation/requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r layers/segmentation/requirements.txt -e '.[dev,bench]'
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

CUSTOMERS ?= 5000
demo: venv
	$(BIN)/python -m local_runtime demo --customers $(CUSTOMERS)

serve: venv
	$(BIN)/python -m local_runtime serve --port 3000

lint: venv
	$(BIN)/ruff check layers functions local_runtime tests benchmarks
	$(BIN)/ruff format --check layers functions local_runtime tests benchmarks
	$(BIN)/mypy layers/segmentation/segmentation local_runtime
	@for handler in functions/*/app.py; do $(BIN)/mypy $$handler || exit 1; done  # one each: all are named app

validate: venv
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template template.yaml

build: venv
	$(BIN)/sam build --template template.yaml --build-dir .aws-sam/build
	@test -d .aws-sam/build/SegmentationLayer/python/segmentation || { echo "layer package missing from the build"; exit 1; }

unit: venv
	$(BIN)/pytest tests/unit -n 2

test: venv lint validate build
	$(BIN)/pytest tests -n 2

bench: venv
	$(BIN)/python -m benchmarks

deploy: build
	$(BIN)/sam deploy --guided

clean:
	rm -rf .aws-sam .pytest_cache .hypothesis

# The README's two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8080
export PROGRESS ?= 1

.PHONY: run test venv models lint-docker test-quick clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/:/'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[train,dev]'
	touch $@

venv: $(STAMP)  ## create .venv and install pinned dependencies

models: $(STAMP)  ## train every service whose model is missing from the store
	$(PY) -m services.common.bootstrap

run: models  ## train what is missing, then serve all services and the UI on 127.0.0.1:$(PORT)
	@echo "serving on http://127.0.0.1:$(PORT)/  (Ctrl-C stops)"
	HOST=127.0.0.1 PORT=$(PORT) exec $(VENV)/bin/gunicorn -c services/common/gunicorn_conf.py 'services.gateway:create_app()'

test: $(STAMP)  ## the whole suite (unit, integration, lint, slow tiers)
	$(PY) -m pytest -q

test-quick: $(STAMP)  ## the suite without the slow tier
	$(PY) -m pytest -q -m "not slow"

lint-docker: $(STAMP)  ## hadolint every service Dockerfile
	$(VENV)/bin/hadolint services/*/Dockerfile

clean:  ## remove local models, caches and the venv
	rm -rf var $(VENV) .pytest_cache

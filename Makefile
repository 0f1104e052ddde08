# The README's two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8080
TEST_WORKERS ?= 2
export PROGRESS ?= 1

.PHONY: run demo demo-monitoring screenshots bench test venv tools vendor-frontend models images lint-docker test-quick test-infra clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/:/'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[train,dev]'
	touch $@

venv: $(STAMP)  ## create .venv and install pinned dependencies

TOOLS_STAMP := .venv-tools/.installed
$(TOOLS_STAMP): requirements/infra-tools.txt scripts/install_infra_tools.sh
	bash scripts/install_infra_tools.sh
	touch $@

tools: $(TOOLS_STAMP)  ## checkov, trivy and the aws CLI, each in its own venv under .venv-tools/

models: $(STAMP)  ## train every service whose model is missing from the store
	$(PY) -m services.common.bootstrap

run: models  ## train what is missing, then serve all services and the UI on 127.0.0.1:$(PORT)
	@$(PY) -m services.common.auth var/keys
	@echo "serving on http://127.0.0.1:$(PORT)/  (Ctrl-C stops)"
	API_KEYS_DIR=$(CURDIR)/var/keys HOST=127.0.0.1 PORT=$(PORT) exec $(VENV)/bin/gunicorn -c services/common/gunicorn_conf.py 'services.gateway:create_app()'

demo: $(STAMP)  ## with `make run` on the same PORT: a simulated match day into flow, stamped relative to now (STADIUM=AGADIR, SPEED=1)
	@echo "make demo: flow at http://127.0.0.1:$(PORT) (PORT=$(PORT); give make run and make demo the same PORT)"
	$(PY) -m services.flow.simulate --stadium $${STADIUM:-AGADIR} --replay http://127.0.0.1:$(PORT) --speed $${SPEED:-1}

demo-monitoring: $(STAMP)  ## with `make run` going: replay the data sets' latest weeks as requests and actuals (rows seen in training: in-sample)
	$(PY) -m services.common.replay --url http://127.0.0.1:$(PORT) --weeks $${WEEKS:-20}

screenshots: models  ## train what is missing (as make run), serve, drive Chromium: docs/screenshots/*.png
	$(PY) scripts/screenshots.py --no-train

bench: $(STAMP)  ## performance harness over every built service, monitoring under load included; writes bench/RESULTS.md (about 25 minutes)
	$(PY) -m bench.run

test: $(STAMP) $(TOOLS_STAMP)  ## the whole suite (unit, integration, lint, browser, slow tiers) on TEST_WORKERS=2 pytest workers
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=15

test-infra: $(STAMP) $(TOOLS_STAMP)  ## terraform, scripts and workflow checks only
	$(PY) -m pytest -q tests/infra

test-quick: $(STAMP)  ## the suite without the slow tier
	$(PY) -m pytest -q -m "not slow"

vendor-frontend:  ## fetch the pinned chart library from npm into frontend/vendor/ (committed)
	bash scripts/vendor_frontend.sh

images:  ## podman: the stand-in base image when missing, then every registry service's serving image (localhost/mlplat/<svc>:local)
	nice bash scripts/build_images.sh

lint-docker: $(STAMP)  ## hadolint the Dockerfile (every service's image and the training image)
	$(VENV)/bin/hadolint Dockerfile

clean:  ## remove local models, caches and the venv
	rm -rf var $(VENV) .pytest_cache

# The README's commands. Every target does its own setup, so a fresh clone needs nothing else.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HELIX_LOCK := tools/helix/requirements.lock
HELIX_EXCLUDE_NEWER ?= 2026-12-01T00:00:00Z

.DEFAULT_GOAL := help

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "setup: $(PYTHON) not found (Python 3.11+ is required)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv with the operator, the emulator and the test tools

testbin: ## Build etcd, kube-apiserver, kube-controller-manager, kubectl and promtool into .testbin/
	@bash tools/testenv/build.sh
	@bash tools/testenv/build-promtool.sh

helix-env: $(STAMP) ## Build the NeMo Helix 3.12 environment into .helix/venv
	@bash tools/helix/build.sh

helix-lock: $(STAMP) ## Resolve tools/helix/requirements.in into requirements.lock (Python 3.12)
	@{ echo "# The NeMo Helix environment (.helix/venv, Python 3.12) that tools/helix/build.sh installs."; \
	   echo "# Generated from tools/helix/requirements.in; do not edit. Regenerate with: make helix-lock"; \
	   echo "# (uv pip compile --python-version 3.12 --exclude-newer $(HELIX_EXCLUDE_NEWER) --generate-hashes,"; \
	   echo "# resolved for this platform; rouge-score has only an sdist, which uv builds)."; \
	   $(BIN)/uv pip compile tools/helix/requirements.in --python-version 3.12 --quiet \
	     --exclude-newer $(HELIX_EXCLUDE_NEWER) --generate-hashes --no-header; \
	 } > $(HELIX_LOCK).tmp && mv $(HELIX_LOCK).tmp $(HELIX_LOCK) || { rm -f $(HELIX_LOCK).tmp; exit 1; }
	@echo "helix-lock: $$(grep -c '^[a-z0-9]' $(HELIX_LOCK)) packages in $(HELIX_LOCK)"

helix: $(STAMP) helix-env ## Run NeMo Helix and the table model server in the foreground
	$(BIN)/python -m tests.support.helix $(ARGS)

lint: $(STAMP) ## ruff, mypy (strict) and import-linter
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) testbin helix-env lint ## All setup, then the whole suite against a real control plane
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

cluster: $(STAMP) testbin ## Run the local control plane in the foreground (kubeconfig: .testenv/kubeconfig)
	$(BIN)/python -m tests.support.controlplane --kubeconfig-out .testenv/kubeconfig

emulator: $(STAMP) ## Run the NeMo Evaluator emulator on 127.0.0.1:7331
	$(BIN)/nemo-evaluator-emulator --host 127.0.0.1 --port 7331

demo: $(STAMP) testbin helix-env ## Control plane + emulator + operator + samples, then print the results
	$(BIN)/python -m tests.support.demo $(ARGS)

e2e-kind: ## With Docker and kind: install like users do in a kind cluster, then run the e2e tests there
	bash tools/kind-e2e.sh

bench: $(STAMP) testbin ## Operator vs. NeMo SDK floor for N=100..5000 EvalJobs, restarts, long jobs (BENCH_ARGS=...)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean: ## Remove build outputs (keeps Go caches)
	rm -rf .testbin .testenv .venv .demo .helix

.PHONY: help venv testbin helix-env helix-lock helix lint test cluster emulator demo e2e-kind bench clean

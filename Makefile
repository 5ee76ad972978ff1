# The two commands of the README: `make run` and `make test`. Everything installs from the locks in
# requirements/, so a fresh machine gets exactly what CI tested.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
export HOST PORT

.PHONY: run test install install-dev migrate seed lint messages screenshots lock bench clean

run: $(VENV)/.run-installed
	$(BIN)/customer360 migrate
	$(BIN)/customer360 seed --if-empty --customers 200
	$(BIN)/customer360 serve

test: $(VENV)/.dev-installed
	$(BIN)/ruff check app tests bench sql
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(VENV)/.run-installed
install-dev: $(VENV)/.dev-installed

$(VENV)/.venv-created:
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $@

$(VENV)/.run-installed: $(VENV)/.venv-created requirements/run.txt pyproject.toml
	$(BIN)/pip install --quiet --require-hashes -r requirements/run.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.venv-created requirements/dev.txt pyproject.toml
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.run-installed

migrate: $(VENV)/.run-installed
	$(BIN)/customer360 migrate

seed: $(VENV)/.run-installed
	$(BIN)/customer360 seed --customers 200

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check app tests bench sql
	$(BIN)/ruff format --check app tests bench sql

# Extract the strings to translate (Python and templates) and merge them into the French catalogue;
# then translate the new entries of app/translations/fr.po (tests/test_i18n.py fails while one is missing).
messages: $(VENV)/.dev-installed
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _say -k _say_plural:1,2 --no-location --sort-output --omit-header \
		-o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -o app/translations/fr.po -l fr_CA \
		--no-fuzzy-matching --ignore-obsolete

# The README's pictures, taken in Chromium from freshly seeded demo data.
screenshots: $(VENV)/.dev-installed
	$(BIN)/python -m tests.browser.screenshots docs/screenshots

# Regenerate the locks after changing dependencies in pyproject.toml (needs uv: `pip install uv`).
lock:
	uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes -q -o requirements/run.txt
	uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --extra test --extra bench -q -o requirements/dev.txt

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

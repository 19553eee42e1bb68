# Two commands: `make run` (serve the portal with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
FLASK   = FLASK_APP=wsgi $(BIN)/flask
HOST   ?= 127.0.0.1
PORT   ?= 5000
CATALOGS = $(wildcard portal/translations/*/LC_MESSAGES/messages.po)

.PHONY: run test install install-dev translations messages migrate e2e clean help

help:
	@echo "make run    install, migrate, load demo data when empty, serve on http://$(HOST):$(PORT)"
	@echo "make test   install test tools and run the whole suite"

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Compiled catalogs are build products (not committed).
translations: $(VENV)/.installed
	@$(BIN)/pybabel compile -d portal/translations 2>&1 | grep -v "^compiling catalog" || true

# Re-extract strings after changing templates or code, then translate the new entries.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg --ignore-dirs ".* __pycache__ node_modules" -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2 --no-location -o portal/translations/messages.pot . >/dev/null
	$(BIN)/pybabel update -N --ignore-obsolete -i portal/translations/messages.pot -d portal/translations

migrate: install translations
	$(FLASK) db upgrade

run: migrate
	$(FLASK) demo-data --if-empty
	@echo
	@echo "The portal is at http://$(HOST):$(PORT)"
	@$(FLASK) demo-logins
	@echo
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install-dev translations
	$(BIN)/ruff check -q portal tests benchmarks wsgi.py
	$(BIN)/python -m pytest $(PYTEST_ARGS)

e2e: install-dev translations
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

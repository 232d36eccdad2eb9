# Madoguchi — the two commands are `make run` and `make test`; everything they need is installed here.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
BIN    := $(VENV)/bin
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
            && { echo $$p; break; }; done)
STAMP  := $(VENV)/.installed
CMD    := $(BIN)/madoguchi
HOST   ?= 127.0.0.1
PORT   ?= 8000
# A fresh random 32-byte key, base64: what production sets for each secret (see README, Configuration).
NEWKEY := $(BIN)/python -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())'

.PHONY: help install migrate demo run serve test lint format pytest check-deploy messages bench clean

help:
	@echo "make run    install, migrate, load demo data, serve on http://localhost:$(PORT)"
	@echo "make test   install, lint, migrations check, the whole test suite"
	@echo "make lint | format | bench | messages | check-deploy | clean"

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required (python3.11, 3.12 or 3.13 on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(CMD) migrate --noinput
	$(CMD) migrate --database vault --noinput

demo: migrate
	$(CMD) demo

run: demo
	@echo
	@echo "  Madoguchi 窓口 is starting on http://localhost:$(PORT)/"
	@echo "    residents' home:  http://localhost:$(PORT)/            (search any of the 1,741 municipalities)"
	@echo "    a municipality:   http://localhost:$(PORT)/131016/     (千代田区)"
	@echo "    resident sign-in: http://localhost:$(PORT)/sign-in/    (demo card yamada, PIN 1234)"
	@echo "    business sign-in: http://localhost:$(PORT)/business/sign-in/  (development GビズID)"
	@echo "    staff sign-in:    http://localhost:$(PORT)/staff/      (chiyoda-admin / madoguchi-demo,"
	@echo "                      then the code from: $(CMD) demo_totp chiyoda-admin)"
	@echo "    administration:   http://localhost:$(PORT)/admin/      (operator, same way)"
	@echo "    API docs:         http://localhost:$(PORT)/api/v1/docs"
	@echo
	$(CMD) runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check src bench
	$(BIN)/ruff format --check src bench

format: install
	$(BIN)/ruff check --fix src bench
	$(BIN)/ruff format src bench

pytest: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint
	$(CMD) makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check-deploy: install
	MADOGUCHI_PRODUCTION=true DEBUG=false ALLOWED_HOSTS=madoguchi.example.jp \
	SECRET_KEY=$$($(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))") MADOGUCHI_VAULT_KEY=$$($(NEWKEY)) MADOGUCHI_VAULT_INDEX_KEY=$$($(NEWKEY)) \
	MADOGUCHI_HOLDER_KEY=$$($(NEWKEY)) GBIZID_CLIENT_SECRET=$$($(NEWKEY)) \
	$(CMD) check --deploy --fail-level WARNING

messages: install
	cd src/madoguchi && PYTHONPATH=.. ../../$(CMD) makemessages -l ja -l en --no-obsolete && PYTHONPATH=.. ../../$(CMD) compilemessages

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis

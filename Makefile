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

.PHONY: help install e2e-deps migrate demo run serve test lint format pytest check-deploy messages bench clean

help:
	@echo "make run    install, migrate, load demo data, serve on http://localhost:$(PORT)"
	@echo "make test   install, lint, migrations check, the whole test suite"
	@echo "make serve | lint | format | bench | messages | check-deploy | clean"

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required (python3.11, 3.12 or 3.13 on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The end-to-end tests' browser and accessibility checker (tests only): axe-core from npm (package-lock.json)
# and Debian's chromium with Japanese fonts, plus poppler's pdftoppm (the sanitizer's page re-render test).
# Each is installed only when missing; where it cannot be (no npm, not root, no apt-get) a warning is
# printed and the e2e tests skip — except under CI=true, where they fail.
AXE      := node_modules/axe-core/axe.min.js
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
APT_E2E  := DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk poppler-utils
PDFTOPPM := /usr/bin/pdftoppm

e2e-deps: $(AXE) $(CHROMIUM) $(CJK_FONT) $(PDFTOPPM)

# npm ci keeps the tarball's old file dates: touch, so that the file is newer than the lock file it came from.
$(AXE): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund && touch $(AXE) \
	    || echo "warning: npm ci failed: axe-core not installed, the e2e tests will skip"; \
	else echo "warning: npm not found: axe-core not installed, the e2e tests will skip"; fi

$(CHROMIUM) $(CJK_FONT) $(PDFTOPPM) &:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium and fonts-noto-cjk for the e2e tests"; \
	  $(APT_E2E) || { apt-get update -q && $(APT_E2E); } \
	    || echo "warning: apt-get could not install chromium: the e2e tests will skip"; \
	else echo "warning: $(CHROMIUM) is missing and cannot be installed here (needs root and apt-get):" \
	  "the e2e tests will skip; as root: $(APT_E2E)"; fi

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

serve: migrate  # the same server without loading the demo data
	$(CMD) runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check src bench
	$(BIN)/ruff format --check src bench

format: install
	$(BIN)/ruff check --fix src bench
	$(BIN)/ruff format src bench

pytest: install e2e-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint e2e-deps
	$(CMD) makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check-deploy: install
	MADOGUCHI_PRODUCTION=true DEBUG=false ALLOWED_HOSTS=madoguchi.example.jp \
	SECRET_KEY=$$($(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))") MADOGUCHI_VAULT_KEY=$$($(NEWKEY)) MADOGUCHI_VAULT_INDEX_KEY=$$($(NEWKEY)) \
	MADOGUCHI_HOLDER_KEY=$$($(NEWKEY)) GBIZID_CLIENT_SECRET=$$($(NEWKEY)) \
	FEE_GATEWAY_API_KEY=$$($(NEWKEY)) FEE_GATEWAY_WEBHOOK_SECRET=$$($(NEWKEY)) \
	$(CMD) check --deploy --fail-level WARNING

messages: install
	cd src/madoguchi && PYTHONPATH=.. ../../$(CMD) makemessages -l ja -l en --no-obsolete && PYTHONPATH=.. ../../$(CMD) compilemessages

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .ruff_cache .hypothesis

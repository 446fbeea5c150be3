# Deskgate: `make run` serves the demo, `make test` runs the tests. Both set themselves up.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PORT   ?= 8000
WORKERS ?= 2
# Threads: a slow mail server or SMS gateway holds a thread, not a whole worker.
THREADS ?= 4
# The path without its query string: searches carry phone numbers and addresses.
ACCESS_LOG := %(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms
PYTHON ?= python3

.PHONY: setup run sso-demo app-demo test test-postgres lint bench clean messages compile-messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# The OpenID Connect provider the SSO tests sign in against (npm's oidc-provider).
OIDC   := tests/oidc/node_modules/.package-lock.json
$(OIDC): tests/oidc/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the SSO end-to-end tests will be skipped (apt-get install -y npm)"; fi

# axe-core, which the browser tests run over every page state they reach (tests/browser/a11y.py).
AXE    := tests/a11y/node_modules/.package-lock.json
$(AXE): tests/a11y/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/a11y --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the browser tests' accessibility checks will be skipped (apt-get install -y npm)"; fi

# Finnish and Swedish: the .po catalogues are committed, the .mo files are built here
# (GNU gettext's msgfmt, Debian's `gettext`). `make messages` brings the catalogues up to date
# with the code and templates after a change of English text.
LOCALE := src/deskgate/locale
MO     := $(patsubst %.po,%.mo,$(wildcard $(LOCALE)/*/LC_MESSAGES/*.po))
$(LOCALE)/%.mo: $(LOCALE)/%.po
	msgfmt --check-format -o $@ $<
compile-messages: $(MO)
messages: $(STAMP)
	cd src/deskgate && ../../$(BIN)/deskgate makemessages -l fi -l sv --no-obsolete --no-location

setup: $(STAMP) $(OIDC) $(AXE) compile-messages

# The demo serves plain HTTP on loopback, so its cookies cannot carry the Secure flag;
# production (DESKGATE_SECURE_COOKIES unset) always sets it.
run: export DESKGATE_DEMO ?= 1
run: export DESKGATE_SECURE_COOKIES ?= 0
# The demo's SSO provider (`make sso-demo`) serves plain http on 127.0.0.1; the server
# reaches it only in the demo. Production refuses http and loopback providers.
run: export DESKGATE_SSO_ALLOW_HTTP_LOOPBACK ?= $(DESKGATE_DEMO)
run: $(STAMP) compile-messages
	$(BIN)/deskgate migrate --noinput -v0
	$(BIN)/deskgate createcachetable
	$(BIN)/deskgate collectstatic --noinput -v0
	@if [ "$$DESKGATE_DEMO" = "1" ]; then $(BIN)/deskgate load-demo; fi
	@echo "Deskgate on http://127.0.0.1:$(PORT)/ (messages of the demo: http://127.0.0.1:$(PORT)/outbox/)"
	exec $(BIN)/gunicorn deskgate.wsgi --bind 127.0.0.1:$(PORT) --workers $(WORKERS) \
		--worker-class gthread --threads $(THREADS) --forwarded-allow-ips '' \
		--access-logfile - --access-logformat '$(ACCESS_LOG)'

# SSO in the demo without the internet: run beside `make run` (uses the demo's database).
sso-demo: export DESKGATE_DEMO ?= 1
sso-demo: export DESKGATE_SSO_ALLOW_HTTP_LOOPBACK ?= 1
sso-demo: $(STAMP) $(OIDC)
	$(BIN)/python -m tests.harness.sso_demo

# The demo's app, the Agent desktop, on http://127.0.0.1:8001: run beside `make run`, which
# registers it and writes its credentials to var/agent-desktop.json.
app-demo: $(STAMP)
	$(BIN)/python -m tests.harness.app_demo

test: $(STAMP) $(OIDC) $(AXE) compile-messages
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/deskgate
test-postgres: $(STAMP) $(OIDC) $(AXE) compile-messages
	$(BIN)/pytest $(PYTEST_ARGS)

# Figures, not pass/fail: see README "Performance". BENCH_DATABASE_URL picks PostgreSQL.
# The storm starts gunicorn (BENCH_WORKERS), the harness's SMTP server and Kannel, and uses
# Redis (BENCH_CACHE_URL, default redis://127.0.0.1:6379/7); STORM_ARGS (default --profile:
# a py-spy profile of the workers) go to the one-node run, which also signs the agents in to an
# app (OpenID Connect, bench/app_signin.py) and signs key agents in with a security key
# (bench/passkey.py). About 7 minutes on 2 cores.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/deskgate_bench
BENCH_CACHE_URL ?= redis://127.0.0.1:6379/7
BENCH_WORKERS ?= 2
# Threads: a slow mail server or SMS gateway holds a thread, not a whole worker.
THREADS ?= 4
# The path without its query string: searches carry phone numbers and addresses.
ACCESS_LOG := %(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms
STORM_ARGS ?= --profile
bench: $(STAMP)
	$(BIN)/python -m bench.userlist --users 10000
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python -m bench.userlist --users 10000
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python -m bench.userlist --users 100000
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python -m bench.bulk --agents 5000
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python -m bench.scim --users 100000
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python -m bench.coverage --users 10000
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python -m bench.imports --rows 5000
	DATABASE_URL=$(BENCH_DATABASE_URL) CACHE_URL=$(BENCH_CACHE_URL) $(BIN)/python -m bench.cpu --agents 60
	DATABASE_URL=$(BENCH_DATABASE_URL) CACHE_URL=$(BENCH_CACHE_URL) $(BIN)/python -m bench.cpu_app --agents 30
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python -m bench.storm --workers $(BENCH_WORKERS) $(STORM_ARGS)
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python -m bench.storm --nodes 2 --workers 1 --reuse-data --time-limit 240

# mypy: src/ in strict mode (pyproject.toml), then tests and bench in its default mode.
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/mypy tests bench

clean:
	rm -rf $(VENV) var

# Two commands matter: `make run` (the whole system on this machine) and `make test`.
# Both install what is missing into .venv first; neither needs Docker.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test test-unit lint format up down kafka-start kafka-stop asyncapi clean bench bench-full

install: $(STAMP) .local/kafka/libs/.complete tools/contracts/node_modules/.complete

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# Outside tools that check the published contracts (AsyncAPI parser, openapi-typescript + tsc, dclint),
# pinned by tools/contracts/package-lock.json; needs Node.js 20 and npm.
tools/contracts/node_modules/.complete: tools/contracts/package-lock.json
	npm ci --prefix tools/contracts --no-audit --no-fund --loglevel=error
	@touch $@

# The Kafka broker's jars, from Maven Central through infra/kafka/pom.xml (pinned versions).
.local/kafka/libs/.complete: infra/kafka/pom.xml $(STAMP)
	$(PY) -c "from shared.infra.kafka import LocalKafka; LocalKafka().ensure_jars()"
	@touch $@

run: install
	$(VENV)/bin/pelanggan run

test: install
	$(VENV)/bin/pytest

test-unit: install
	$(VENV)/bin/pytest -m "not integration"

lint: install
	$(VENV)/bin/ruff check .

format: install
	$(VENV)/bin/ruff format .

# Benchmarks (bench/, docs/benchmarks.md): their own broker and PostgreSQL on free ports, never in CI.
bench: install
	$(PY) -m bench.run --quick

bench-full: install
	$(PY) -m bench.run

asyncapi: install
	$(VENV)/bin/pelanggan asyncapi

kafka-start: install
	$(VENV)/bin/pelanggan kafka start

kafka-stop: install
	$(VENV)/bin/pelanggan kafka stop

up:
	docker compose up --build

down:
	docker compose down

clean:
	rm -rf $(VENV) .local data .pytest_cache .ruff_cache

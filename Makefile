# Two commands for a newcomer: `make run` (the app) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run serve serve-apps classroom test lint train-toy train-en-de benchmark clean

# The project itself is installed in editable mode: `import transformer` works from anywhere.
$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

run: $(BIN)/.installed
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

# A class: app processes (one per core) behind HAProxy on PORT, sticky sessions, websockets,
# health checks; the processes come from deploy/backends.txt. Ctrl-C stops everything (docs/deploy.md).
BIND ?= 0.0.0.0
serve: $(BIN)/.installed
	$(BIN)/python -m deploy.serve --port $(PORT) --bind $(BIND) $(if $(INT8),--int8)

# Another machine's app processes, for the balancer of `make serve` (listed in its deploy/backends.txt).
serve-apps: $(BIN)/.installed
	$(BIN)/python -m deploy.serve --apps-only

# A simulated class against a running server: make classroom URL=http://127.0.0.1:8501 STUDENTS=60
STUDENTS ?= 60
classroom: $(BIN)/.installed
	$(BIN)/python -m benchmarks.classroom --students $(STUDENTS) $(if $(URL),--url $(URL))

# pytest in two processes, a test file to each: the browser tests mostly wait on the app.
test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

train-toy: $(BIN)/.installed
	$(BIN)/python -m transformer train configs/toy-reverse.toml

train-en-de: $(BIN)/.installed
	$(BIN)/python -m transformer train configs/en-de.toml

benchmark: $(BIN)/.installed
	$(BIN)/python benchmarks/model_speed.py
	$(BIN)/python benchmarks/app_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

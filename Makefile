# Two commands for a newcomer: `make run` (the app) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test lint train-toy train-en-de benchmark clean

# The project itself is installed in editable mode: `import transformer` works from anywhere.
$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

run: $(BIN)/.installed
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

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

# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint translations bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) (Python 3.11)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

translations: $(STAMP)
	@$(VENV)/bin/pybabel compile -d cardservice/translations -D messages >/dev/null

run: $(STAMP) translations
	$(PY) -m cardservice.demo

# Two pytest-xdist workers, each test file on one worker (its servers and browser set up
# once); TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2

test: $(STAMP) translations
	$(PY) -m pytest -q -ra -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check cardservice tests bench
	$(VENV)/bin/mypy cardservice

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

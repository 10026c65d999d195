# aebench: `make run` is the benchmark in miniature, `make test` the test suite (`make test-slow`
# the tests marked slow).
# Both install into .venv first (once; again when pyproject.toml or constraints.txt changes):
# everything, extras included, at the tested versions of constraints.txt.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test test-slow clean-outputs

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,sweeps,export,dashboard]'
	touch $(STAMP)

run: install
	$(PY) -m aebench -m experiment=benchmark_shapes $(ARGS)

# two pytest workers, one per core (one torch thread each), a test file per worker
test: install
	$(PY) -m pytest -q -m "not slow" -n 2 --dist loadfile

# the tests marked slow (Ray, DDP, submitit, kills and resumes in real processes); CI runs both
test-slow: install
	$(PY) -m pytest -q -m slow

clean-outputs:
	rm -rf outputs/ multirun/*/

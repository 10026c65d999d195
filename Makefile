# aebench: `make run` is the benchmark in miniature, `make test` the test suite (`make test-slow`
# the tests marked slow).
# Both install into .venv first (once; again when pyproject.toml or constraints.txt changes):
# everything, extras included, at the tested versions of constraints.txt.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test test-slow clean-outputs keras-venv

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

# TensorFlow CPU + Keras for benchmarks/keras_compare.py, in a venv of their own (never in .venv)
KERAS_VENV ?= .venv-keras
keras-venv: $(KERAS_VENV)/.installed

$(KERAS_VENV)/.installed:
	test -x $(KERAS_VENV)/bin/python || $(PYTHON) -m venv $(KERAS_VENV)
	$(KERAS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check tensorflow-cpu==2.21.0 keras==3.15.1
	touch $@

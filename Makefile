# The two commands of the README:
#   make demo   set up, then run the embedded demo sweep end to end (report included)
#   make test   set up, then run the test suite
# Set-up is a virtual environment in .venv with the pinned dependencies (about 6 GB, 2 minutes).

VENV ?= .venv
PY := $(VENV)/bin/python
# torch first, pinned with torchvision: on the project's CI machines these come from local disk,
# and a newer torch without a matching torchvision breaks torch-fidelity and peft.
TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: setup demo test
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(VENV)/bin/autophagy run sweeps/demo.yaml --out runs/demo --resume

test: setup
	$(PY) -m pytest -q

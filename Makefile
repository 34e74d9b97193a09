# The two commands of the README:
#   make demo   set up, then run the embedded demo sweep end to end (report included)
#   make test   set up, then run the test suite
# Set-up is a virtual environment in .venv with the pinned dependencies (about 6 GB, 2 minutes).

VENV ?= .venv
PY := $(VENV)/bin/python
# torch first, pinned with torchvision: on the project's CI machines these come from local disk,
# and a newer torch without a matching torchvision breaks torch-fidelity and peft.
TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: setup browser demo test
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(VENV)/bin/autophagy run sweeps/demo.yaml --out runs/demo --resume

# The report's render test opens report.html in headless Chromium: install Debian's package where
# we may (root with apt-get, about 2 minutes once); elsewhere that one test is skipped, saying why.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }; } || \
	  echo "note: no chromium here; the report render test will be skipped"

test: setup browser
	$(PY) -m pytest -q

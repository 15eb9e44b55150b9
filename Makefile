# Both targets create .venv on their own, install torch from the pinned wheels, then ganx.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.ganx-installed

.PHONY: demo test lint bench clean

demo: $(STAMP)
	$(VENV)/bin/ganx sweep sweeps/tricks.yaml

test: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/pytest -q -n 2 --dist loadgroup   # two workers, one torch thread each (2 cores)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PYTHON) benchmarks/run_all.py

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PYTHON) -m pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) results/*/

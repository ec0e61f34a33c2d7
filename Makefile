# poa-mm: one entry point per job. Every target sets up .venv/ first if needed.
PY := .venv/bin/python
FMNIST_SRC ?= /usr/share/datasets/fashion-mnist

.PHONY: setup data demo test lint bench clean-venv

setup:
	@bash scripts/setup_env.sh

data: setup
	@bash scripts/ensure_fashion_mnist.sh $(FMNIST_SRC)
	@$(PY) tools/prepare_fashion_mnist.py --src $(FMNIST_SRC) --out data/fashion_mnist

demo: data
	@bash scripts/demo.sh

test: setup
	$(PY) -m pytest -q tests

lint: setup
	$(PY) -m ruff check poa_mm tools tests benchmarks configs

bench: setup
	$(PY) benchmarks/elastic_overhead.py
	$(PY) benchmarks/train_step.py

clean-venv:
	rm -rf .venv

# poa-mm: one entry point per job. Every target sets up .venv/ first if needed.
PY := .venv/bin/python
FMNIST_SRC ?= /usr/share/datasets/fashion-mnist

.PHONY: setup data demo test lint bench gpu-check clean-venv

setup:
	@bash scripts/setup_env.sh

# The folder holding the Fashion-MNIST IDX files (installed or unpacked if needed).
FMNIST = $$(bash scripts/ensure_fashion_mnist.sh $(FMNIST_SRC))

data: setup
	@src=$(FMNIST) && $(PY) tools/prepare_fashion_mnist.py --src $$src --out data/fashion_mnist

demo: data
	@src=$(FMNIST) && FMNIST_SRC=$$src bash scripts/demo.sh

# Two pytest workers (pytest-xdist, one file per worker at a time), one thread each: on
# 2 cores 1.3x faster than one process with two threads (docs/development.md, "Tests").
test: setup
	@src=$(FMNIST) && FASHION_MNIST_SRC=$$src OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile --durations=20 tests

# On a GPU machine (torch with CUDA; no OpenMMLab or network needed): the cuda test tier, a
# tiny pre-training with FamilyKNNHook, k-NN on the GPU and the GPU step benchmark, from the
# folder scripts/prepare_gpu_carry.sh makes. Results in work_dirs/gpu_check/.
gpu-check:
	@bash scripts/gpu_check.sh $(or $(GPU_CARRY),.gpu_carry)

lint: setup
	$(PY) -m ruff check poa_mm tools tests benchmarks configs scripts

bench: setup
	$(PY) benchmarks/elastic_overhead.py
	$(PY) benchmarks/train_step.py

clean-venv:
	rm -rf .venv

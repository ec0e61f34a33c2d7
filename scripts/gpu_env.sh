# Sourced by the prepared GPU scripts (gpu_check.sh, gpu_demo.sh) on a machine
# with Python and torch but no OpenMMLab and no network: installs the carried
# wheels into a temporary folder on PYTHONPATH, unpacks the Debian
# Fashion-MNIST package (no apt) and defines prep (tools/prepare_fashion_mnist.py
# from it). Sets SITE, PYTHONPATH, FASHION_MNIST_SRC; needs PY and the carry
# folder ($1, from scripts/prepare_gpu_carry.sh).
GPU_CARRY=$1
SITE=$(mktemp -d)
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
  --target "$SITE/py" "$GPU_CARRY"/*.whl || return 1
export PYTHONPATH="$SITE/py:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
$PY -c 'import torch, mmengine, mmpretrain, poa_mm
print("torch", torch.__version__, "cuda", torch.version.cuda,
      torch.cuda.get_device_name() if torch.cuda.is_available() else "(no CUDA device)")' || return 1

DEB=$(ls "$GPU_CARRY"/dataset-fashion-mnist_*.deb | head -n1)
dpkg -x "$DEB" "$SITE/deb" || return 1
export FASHION_MNIST_SRC=$SITE/deb/usr/share/datasets/fashion-mnist
prep() { $PY tools/prepare_fashion_mnist.py --src "$FASHION_MNIST_SRC" "$@"; }

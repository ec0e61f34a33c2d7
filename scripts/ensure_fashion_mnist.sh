#!/usr/bin/env bash
# Make sure the Fashion-MNIST IDX files (Debian package dataset-fashion-mnist) are there: install the
# package with apt when possible, otherwise say in one line what to run.
set -euo pipefail
SRC=${1:-/usr/share/datasets/fashion-mnist}
[ -e "$SRC/t10k-images-idx3-ubyte.gz" ] && exit 0
if [ "$SRC" = /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=""; fi
  fi
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    echo "[data] installing the Debian package dataset-fashion-mnist"
    $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
      || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null; }
    [ -e "$SRC/t10k-images-idx3-ubyte.gz" ] && exit 0
  fi
fi
echo "error: Fashion-MNIST not found in $SRC; run: sudo apt-get install dataset-fashion-mnist" \
     "(or pass FMNIST_SRC=DIR holding the IDX .gz files)" >&2
exit 1

#!/usr/bin/env bash
# Make sure the Fashion-MNIST IDX files (Debian package dataset-fashion-mnist) are there and print
# the folder that holds them (messages go to stderr). In order: the given folder; the system
# package (installed with apt when root or passwordless sudo); the package unpacked without root
# into $POA_MM_CACHE/fashion-mnist (apt-get download + dpkg -x). Otherwise one line says what to run.
set -euo pipefail
SYSTEM=/usr/share/datasets/fashion-mnist
SRC=${1:-$SYSTEM}
CACHE=${POA_MM_CACHE:-$HOME/.cache/poa-mm}/fashion-mnist
found() { [ -e "$1/t10k-images-idx3-ubyte.gz" ] && echo "$1"; }
found "$SRC" && exit 0
if [ "$SRC" = "$SYSTEM" ]; then
  found "$CACHE$SYSTEM" && exit 0
  if command -v apt-get >/dev/null; then
    SUDO=""
    if [ "$(id -u)" != 0 ] && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
    if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
      echo "[data] installing the Debian package dataset-fashion-mnist" >&2
      $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
        || { $SUDO apt-get update -q >/dev/null 2>&1 \
             && $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; } || true
      found "$SYSTEM" && exit 0
    fi
    echo "[data] unpacking dataset-fashion-mnist into $CACHE (no root needed)" >&2
    tmp=$(mktemp -d)
    if (cd "$tmp" && apt-get download -q dataset-fashion-mnist >/dev/null 2>&1); then
      mkdir -p "$CACHE" && dpkg -x "$tmp"/dataset-fashion-mnist_*.deb "$CACHE"
    fi
    rm -rf "$tmp"
    found "$CACHE$SYSTEM" && exit 0
  fi
fi
echo "error: Fashion-MNIST not found in $SRC; run: sudo apt-get install dataset-fashion-mnist" \
     "(or pass FMNIST_SRC=DIR holding the IDX .gz files)" >&2
exit 1

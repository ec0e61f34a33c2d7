# Source this before a CPU run whose numbers must be the same on every
# x86-64 machine with AVX2 (scripts/demo.sh does): the same seed then gives
# the same weights, because the float summation order no longer depends on
# the host's core count or SIMD width. Without it, PyTorch picks its thread
# count from the cores and its AVX-512 kernels where the CPU has them, and
# a 500-iteration run drifts by a few k-NN points from one machine to the
# next. Costs the speed-up of AVX-512 on hosts that have it.
export OMP_NUM_THREADS=${POA_MM_THREADS:-2}  # reduction splits follow threads
export MKL_NUM_THREADS=$OMP_NUM_THREADS
export MKL_CBWR=AVX2              # MKL's reproducible (CNR) AVX2 code path
export ATEN_CPU_CAPABILITY=avx2   # PyTorch's own vectorised kernels
export ONEDNN_MAX_CPU_ISA=AVX2    # oneDNN (the patch-embedding convolution)

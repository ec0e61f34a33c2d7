# Source this before a CPU run whose numbers must not depend on the host's
# core count or SIMD width (scripts/demo.sh does): 2 threads and the AVX2
# code paths of MKL, ATen and oneDNN fix the float summation order, so an
# AVX-512 host computes what an AVX2-only one does (tested by simulation).
# Without it, PyTorch picks its thread count from the cores and its AVX-512
# kernels where the CPU has them, and a 500-iteration run drifts by a few
# k-NN points from one machine to the next. Costs the speed-up of AVX-512.
# Not enough across vendors: MKL promises its reproducible AVX2 branch on
# Intel CPUs only, and on an AMD EPYC (Zen 3) the demo's table differed by up
# to 1.5 points (README, "Same seed, same table").
export OMP_NUM_THREADS=${POA_MM_THREADS:-2}  # reduction splits follow threads
export MKL_NUM_THREADS=$OMP_NUM_THREADS
export MKL_CBWR=AVX2              # MKL's reproducible (CNR) AVX2 code path
export ATEN_CPU_CAPABILITY=avx2   # PyTorch's own vectorised kernels
export ONEDNN_MAX_CPU_ISA=AVX2    # oneDNN (the patch-embedding convolution)

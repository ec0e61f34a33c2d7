"""The schedules of POA's training: DINOv2's cosine with warmup and the
batch-size rule of the peak learning rate."""
import numpy as np


def cosine_schedule(base: float, final: float, total_iters: int,
                    warmup_iters: int = 0, start_warmup: float = 0.,
                    iter_num_scale: float = 1.) -> np.ndarray:
    """DINOv2's schedule: linear warmup, then cosine from ``base`` to
    ``final``; POA defines the cosine over ``total / iter_num_scale``
    iterations and truncates it at ``total`` (so ``final`` is not reached
    when ``iter_num_scale < 1``)."""
    length = int(total_iters / iter_num_scale)
    warmup = np.linspace(start_warmup, base, warmup_iters)
    steps = np.arange(length - warmup_iters)
    cosine = final + 0.5 * (base - final) * (
        1 + np.cos(np.pi * steps / max(len(steps), 1)))
    return np.concatenate((warmup, cosine))[:total_iters]


def scaled_lr(base_lr: float, total_batch: int, ref_batch: int = 1024,
              rule: str = 'sqrt') -> float:
    """The peak lr for a global batch: ``base_lr * (total / ref) ** p`` with
    p = 1/2 (``'sqrt'``, the official POA code) or 1 (``'linear'``, the
    paper's text)."""
    powers = dict(sqrt=0.5, linear=1.)
    if rule not in powers:
        raise ValueError(f'lr scaling rule must be one of {sorted(powers)}, '
                         f'got {rule!r}')
    return base_lr * (total_batch / ref_batch)**powers[rule]

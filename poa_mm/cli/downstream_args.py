"""Command-line parts shared by tools/to_mmdet.py and tools/to_mmseg.py."""
import argparse
import os.path as osp
import sys
from typing import Callable, Optional, Sequence

from mmengine.config import Config

from ..apis.downstream import write_config
from ..fileio import check_not_an_input
from .errors import describe


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by tools/to_mmdet.py and tools/to_mmseg.py."""
    parser.add_argument('subnet_checkpoint',
                        help='from tools/extract_subnet.py')
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--lr', type=float, default=None)
    parser.add_argument('--layer-decay', type=float, default=None)
    parser.add_argument('--overwrite', action='store_true')


def check_positive(parser: argparse.ArgumentParser, args, names) -> None:
    """One-line parser errors for options that must be positive (unset
    optional ones pass)."""
    for name in names:
        value = getattr(args, name.lstrip('-').replace('-', '_'))
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(v is not None and not v > 0 for v in values):
            parser.error(f'{name} must be positive, got {value}')
    decay = getattr(args, 'layer_decay', None)
    if decay is not None and not 0 < decay <= 1:
        parser.error(f'--layer-decay must be in (0, 1], got {decay}')


def generate_config(build: Callable[[], Config], out: str,
                    overwrite: bool, inputs: Sequence[Optional[str]] = ()
                    ) -> None:
    """CLI flow: refuse an ``out`` that is one of ``inputs`` or exists,
    turn bad input into a one-line error exit, write the config
    atomically."""
    try:
        check_not_an_input(out, inputs)
    except ValueError as e:
        sys.exit(f'error: {describe(e)}')
    if osp.exists(out) and not overwrite:
        sys.exit(f'error: {out} exists; pass --overwrite to replace it')
    try:
        write_config(build(), out, overwrite=overwrite, inputs=inputs)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        sys.exit(f'error: {describe(e)}')
    print(f'wrote {out}')

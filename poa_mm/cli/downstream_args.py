"""Command-line parts shared by the config writers (tools/to_mm*.py)."""
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


def task_parser(doc: str, templates: Sequence[str],
                schedule: str) -> argparse.ArgumentParser:
    """The parser of a detection or segmentation writer: the common
    arguments, ``--template`` and ``--max-iters`` (instead of the
    template's ``schedule``)."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawTextHelpFormatter)
    add_common_args(parser)
    parser.add_argument('--template', required=True, choices=list(templates))
    parser.add_argument('--max-iters', type=int, default=None,
                        help=f'an iteration-based run instead of {schedule}')
    return parser


def parse_task_args(parser: argparse.ArgumentParser, argv,
                    size_flag: str, size_names: str) -> argparse.Namespace:
    """Parse a writer's arguments: ``size_flag`` (``size_names``, or one
    number for both) becomes a pair; sizes, batch, lr and iterations must
    be positive."""
    args = parser.parse_args(argv)
    dest = size_flag.lstrip('-').replace('-', '_')
    size = getattr(args, dest)
    if len(size) > 2:
        parser.error(f'{size_flag} takes {size_names} or one number, got '
                     f'{size}')
    setattr(args, dest, size * (3 - len(size)))
    check_positive(parser, args,
                   ['--batch-size', '--lr', '--max-iters', size_flag])
    return args


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


def write_task_config(writer: Callable[..., Config], args: argparse.Namespace,
                      inputs: Sequence[Optional[str]] = (), **options) -> None:
    """``generate_config`` for a detection or segmentation ``writer``
    called with the parsed common arguments and ``options``."""
    generate_config(
        lambda: writer(args.subnet_checkpoint, args.template, args.data_root,
                       max_iters=args.max_iters, batch_size=args.batch_size,
                       lr=args.lr, layer_decay=args.layer_decay, **options),
        args.out, args.overwrite, [args.subnet_checkpoint, *inputs])

"""Command-line arguments shared by tools/knn_eval.py and
tools/linear_probe.py."""
import argparse


def add_eval_args(p: argparse.ArgumentParser) -> None:
    """Config, checkpoint, sub-networks, folders, loader and output."""
    p.add_argument('config')
    p.add_argument('checkpoint', help='a POA training checkpoint')
    p.add_argument('--subnets', nargs='+', default=['all'],
                   help='"all", preset names or specs such as 128x5')
    p.add_argument('--train-dir', help="defaults to the config's knn_cfg")
    p.add_argument('--val-dir', help="defaults to the config's knn_cfg")
    p.add_argument('--batch-size', type=int, default=None)
    p.add_argument('--num-workers', type=int, default=0)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out-dir', default=None,
                   help='where the CSV and JSON go (default: next to the '
                   'checkpoint)')

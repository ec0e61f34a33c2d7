"""List every unreadable image of a folder before a training run reads it
(truncated or empty files, other formats under an image extension), read
as training reads them, by parallel workers with a progress bar:

    python tools/check_images.py data/imagenet/train [--workers 8] \
        [--out unreadable.txt]

Prints one line per unreadable file (path: why) and a summary; exits 1 when
any is unreadable, so that a job script can stop before a long run.
Training skips such files (LoadCheckedImage's skip_corrupt in the shipped
configs) up to max_unreadable (0.1 %); remove or replace them instead.
"""
import argparse
import os
import sys

from poa_mm.apis.image_check import unreadable_images
from poa_mm.cli.errors import describe, one_line_errors
from poa_mm.fileio import write_atomic


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('folder')
    p.add_argument('--workers', type=int, default=min(8, os.cpu_count()),
                   help='reading processes (default: min(8, CPU cores))')
    p.add_argument('--out', help='also write the unreadable paths here, one '
                   'per line')
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error(f'--workers must be at least 1, got {args.workers}')
    return args


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    try:
        total, bad = unreadable_images(args.folder, args.workers)
    except (FileNotFoundError, OSError) as e:
        sys.exit(f'error: {describe(e)}')
    if total == 0:
        sys.exit(f'error: no images under {args.folder} (extensions: '
                 'MMPretrain CustomDataset\'s)')
    for path, why in bad:
        print(f'{path}: {why}')
    share = 100. * len(bad) / total
    print(f'{len(bad)} of {total} images unreadable ({share:.3f} %)')
    if args.out:
        write_atomic(args.out, lambda tmp: open(tmp, 'w').write(
            ''.join(f'{p}\n' for p, _ in bad)), overwrite=True,
            inputs=[args.folder])
    if bad:
        sys.exit(1)


if __name__ == '__main__':
    main()

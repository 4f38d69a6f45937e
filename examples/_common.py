"""Plumbing shared by the examples: command line, progress bars, figures.

Nothing here differentiates anything; the mathematics lives in each example.
"""
import argparse
import os
import sys
import time

# The examples multiply small matrices, for which one BLAS thread is fastest; several
# threads per process oversubscribe a busy machine (10x slower on 2 shared cores).
# This only takes effect when _common is imported before numpy, as the examples do.
if 'numpy' not in sys.modules:
    for _var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ.setdefault(_var, '1')

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, 'output')

try:                                     # run from a checkout without `pip install -e .`
    import pyad                          # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(HERE))


def parse_args(description, argv=None, extra=None):
    """``--smoke`` (a tiny run for CI), ``--seed``, ``--out`` (where PNGs go)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--smoke', action='store_true',
                        help='a tiny run of a few seconds (used by the test suite)')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--out', default=OUTPUT, help='folder for the PNG figures')
    parser.add_argument('--no-plot', action='store_true', help='do not draw figures')
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


def progress(iterable, desc=None, total=None):
    """A tqdm progress bar when tqdm is installed, the bare iterable otherwise."""
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True,
                mininterval=0.5, disable=None)   # None: no bar when not a terminal


def pyplot(args):
    """matplotlib.pyplot with the Agg backend, or None (no matplotlib, or --no-plot)."""
    if args.no_plot:
        return None
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        print('(matplotlib is not installed: no figure drawn; pip install matplotlib)')
        return None
    return plt


def save(fig, args, name):
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches='tight')
    import matplotlib.pyplot as plt
    plt.close(fig)
    print(f'saved {os.path.relpath(path)}')
    return path


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start

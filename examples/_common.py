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
    """A tqdm bar where stderr (which tqdm draws on) is a terminal; plain progress lines
    on stdout where it is not (a log, a pipe) or tqdm is not installed.  Either has
    ``set_postfix(**values)``."""
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            return tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True,
                        mininterval=0.5)
    return LogProgress(iterable, desc=desc, total=total)


class LogProgress:
    """Progress for a log: one line at each tenth of the run (or every ``every`` seconds
    when the length is unknown), with the elapsed time and the last postfix."""

    def __init__(self, iterable, desc=None, total=None, every=10.0, stream=None):
        self.iterable = iterable
        self.desc = desc or 'progress'
        self.total = total if total is not None else getattr(iterable, '__len__', lambda: None)()
        self.every = every
        self.stream = stream if stream is not None else sys.stdout
        self.postfix = ''

    def set_postfix(self, **values):
        self.postfix = ', '.join(f'{k}={v}' for k, v in values.items())

    def _line(self, done, start):
        count = f'{done}/{self.total}' if self.total else f'{done}'
        extra = f', {self.postfix}' if self.postfix else ''
        print(f'{self.desc}: {count} ({time.perf_counter() - start:.1f} s{extra})',
              file=self.stream, flush=True)

    def __iter__(self):
        start = last = time.perf_counter()
        step = max(1, self.total // 10) if self.total else None
        done = 0
        for item in self.iterable:
            yield item
            done += 1
            now = time.perf_counter()
            if (done % step == 0 if step else now - last >= self.every):
                self._line(done, start)
                last = now
        if done and (step is None or done % step != 0):
            self._line(done, start)


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


def figure_problems(fig):
    """What a reader would miss in ``fig``: each plot needs a title and axis labels, and
    a legend where it draws more than one series (lines and scatters; contours and
    images are one each and are explained by the title or a colour bar)."""
    from matplotlib.collections import PathCollection
    problems = []
    plots = [ax for ax in fig.axes if ax.get_label() != '<colorbar>']
    for i, ax in enumerate(plots):
        where = f'plot {i + 1} of {len(plots)}' + (f' ({ax.get_title()!r})' if ax.get_title() else '')
        missing = [part for part, text in (('title', ax.get_title()), ('x label', ax.get_xlabel()),
                                           ('y label', ax.get_ylabel())) if not text]
        series = len(ax.lines) + sum(type(c) is PathCollection for c in ax.collections)
        if series > 1 and ax.get_legend() is None:
            missing.append(f'legend ({series} series)')
        if missing:
            problems.append(f'{where}: no {", no ".join(missing)}')
    return problems


def save(fig, args, name):
    """Save ``fig`` as ``name`` in ``args.out``; an unlabelled figure is an error."""
    problems = figure_problems(fig)
    if problems:
        raise ValueError(f'figure {name} is incomplete: ' + '; '.join(problems))
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

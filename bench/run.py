#!/usr/bin/env python3
"""pyad's benchmark suite: one command.

    python3 bench/run.py [--quick] [--only W1,W3] [--out bench/RESULTS.md]
                         [--no-peers] [--profile W2,W3] [--verbose]

Times pyad beside a hand-written NumPy baseline and -- where installed --
autograd, JAX (eager and jit) and PyTorch eager, on the same inputs in the
same run; checks every result before timing it; writes a Markdown report.
See bench/README.md.
"""
import os
import sys

# Pin every thread pool to one thread *before* NumPy (or a peer) is imported.
for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS',
             'BLIS_NUM_THREADS', 'VECLIB_MAXIMUM_THREADS', 'NUMEXPR_NUM_THREADS'):
    os.environ[_var] = '1'
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1').strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import argparse      # noqa: E402
import importlib     # noqa: E402
import time          # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# the pyad in this checkout (or in $PYAD_PATH: e.g. a snapshot of another commit)
sys.path.insert(0, os.environ.get('PYAD_PATH') or ROOT)
sys.path.insert(0, HERE)

import harness                 # noqa: E402
import machine                 # noqa: E402
from peers import Peers        # noqa: E402

WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'W8', 'W9', 'W10', 'JIT', 'TABLE', 'MEMORY', 'DASK']
MODULES = {'W1': 'w1_mlp', 'W2': 'w2_scalar_loops', 'W3': 'w3_hessian', 'W4': 'w4_rosenbrock',
           'W5': 'w5_jacobian', 'W6': 'w6_sparsemax', 'W7': 'w7_diffn', 'W8': 'w8_fixed_point',
           'W9': 'w9_sparsek_attention', 'W10': 'w10_per_example', 'JIT': 'jit_small',
           'TABLE': 'operator_table', 'MEMORY': 'memory', 'DASK': 'dask_cluster'}


class Context:
    """What a workload gets: settings, peers, the report to fill, a logger."""

    def __init__(self, settings, peers, report, log):
        self.settings, self.peers, self.report, self.log = settings, peers, report, log


def _parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--quick', action='store_true', help='short rounds, smaller memory test (~2 min)')
    ap.add_argument('--only', default='', help=f'comma-separated subset of {",".join(WORKLOADS)}')
    ap.add_argument('--out', default=os.path.join(HERE, 'RESULTS.md'), help='Markdown report to write')
    ap.add_argument('--no-peers', action='store_true', help='time pyad against NumPy only')
    ap.add_argument('--profile', default='', help='cProfile pyad in these workloads (e.g. W2,W3) '
                                                  'and print the top functions; no timing')
    ap.add_argument('--clock', choices=('wall', 'cpu'), default='wall',
                    help='wall: time.perf_counter (default); cpu: time.process_time, '
                         'less disturbed by other processes on a busy machine')
    ap.add_argument('--verbose', action='store_true', help='print tracebacks of failing implementations')
    return ap


def _settings(args):
    """The harness's settings from the command line (and its clock, and what an
    absent peer is called)."""
    if args.clock == 'cpu':
        harness.CLOCK = time.process_time
    settings = harness.Settings(quick=args.quick)
    settings.clock = args.clock
    settings.verbose = args.verbose
    if args.no_peers:       # read by the workloads, which are imported later
        harness.NOT_INSTALLED = 'disabled (--no-peers)'
    return settings


def _run_workloads(ctx, selected):
    """Each selected workload in turn; one that raises is reported as failed."""
    for wid in WORKLOADS:
        if wid not in selected:
            continue
        t0 = time.perf_counter()
        ctx.log(f'== {wid}')
        module = importlib.import_module(MODULES[wid])
        try:
            module.run(ctx)
        except Exception as e:                           # noqa: BLE001 (reported in the file)
            import traceback
            traceback.print_exc()
            ctx.report.section(wid, f'{wid}: failed', f'The workload raised `{type(e).__name__}: {e}`.')
        ctx.log(f'   ({time.perf_counter() - t0:.1f} s)')


def main(argv=None):
    ap = _parser()
    args = ap.parse_args(argv)

    if args.profile:
        import profile_pyad
        return profile_pyad.main([w.strip().upper() for w in args.profile.split(',') if w.strip()])

    selected = [w.strip().upper() for w in args.only.split(',') if w.strip()] or WORKLOADS
    unknown = [w for w in selected if w not in MODULES]
    if unknown:
        ap.error(f'unknown workload(s) {unknown}; choose from {WORKLOADS}')

    settings = _settings(args)
    peers = Peers(disabled=('autograd', 'jax', 'torch') if args.no_peers else ())
    report = harness.Report()

    def log(msg):
        print(msg, flush=True)

    ctx = Context(settings, peers, report, log)
    started = time.time()
    load_before = machine.loadavg()
    _run_workloads(ctx, selected)
    elapsed = time.time() - started
    text = machine.render(report, settings, peers, selected, elapsed, load_before, machine.loadavg(),
                          ' '.join(sys.argv[1:] if argv is None else argv))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as fh:
        fh.write(text)
    log(f'wrote {args.out} ({elapsed:.0f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())

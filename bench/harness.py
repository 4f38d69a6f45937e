"""Timing, checking and reporting shared by every workload.

A *case* is one computation done several ways: a baseline (hand-written NumPy)
and a list of implementations (pyad, and the peers where installed).  For each
case the harness

1. calls every implementation once (the warm-up; its time is reported as the
   "first call", which for JAX jit is trace + compile + run),
2. checks its result against the baseline's (or the case's reference) with
   ``numpy.testing.assert_allclose`` -- an implementation that fails the check
   is reported as WRONG and not timed,
3. picks a number of calls per round so that one round of one implementation
   lasts at least ``target_s`` (0.2 s; ``--quick``: 0.02 s),
4. runs interleaved rounds: each round times every implementation once, in an
   order rotated from round to round, so that noise (other processes on the
   machine) hits all of them alike,
5. reports the median time per call and the median of the per-round paired
   ratios to the baseline (and to any other named column).
"""
import gc
import math
import statistics
import time
import traceback

import numpy as onp

NOT_INSTALLED = 'not installed'


class Impl:
    """One way of computing a case.  ``fn`` is a zero-argument callable, or a
    string saying why this implementation is absent ("not installed", "pyad.nn
    missing").  ``reference`` overrides the case's reference for the check
    (e.g. a forward pass, checked against the loss value only); ``check=False``
    skips it (say why in ``note``)."""

    def __init__(self, name, fn, reference=None, check=True, note='', dtype=None):
        self.name = name
        self.fn = fn
        self.reference = reference
        self.check = check
        self.note = note
        self.dtype = dtype


class Result:
    def __init__(self, name):
        self.name = name
        self.status = 'ok'
        self.note = ''
        self.first = None      # seconds, the first (warm-up) call
        self.times = []        # seconds per call, one per round (None where skipped)
        self.calls = 0         # calls per round
        self.ratios = {}       # column name -> median paired ratio

    @property
    def median(self):
        ts = [t for t in self.times if t is not None]
        return statistics.median(ts) if ts else None

    @property
    def timed(self):
        return self.status == 'ok' and self.median is not None


class Settings:
    def __init__(self, quick=False):
        self.quick = quick
        self.rounds = 3 if quick else 5
        self.target_s = 0.02 if quick else 0.2
        # an implementation whose single call is slow is timed in fewer rounds
        self.budget_s = 1.0 if quick else 6.0


# ------------------------------------------------------------------ results as NumPy
def to_numpy(x):
    """Any result (pyad, NumPy, JAX, torch; floats; pytrees) as NumPy pytrees."""
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(to_numpy(v) for v in x) if type(x) in (tuple, list) else [to_numpy(v) for v in x]
    mod = type(x).__module__
    if mod.startswith('torch'):
        return x.detach().cpu().numpy()
    if isinstance(x, (onp.ndarray, onp.generic)):
        return x
    if isinstance(x, (float, int)):
        return onp.asarray(x)
    if hasattr(x, '__array__'):
        return onp.asarray(x)
    if mod.startswith('pyad'):
        raise TypeError(f'result is a pyad internal object {type(x).__name__}: a leaked box')
    return onp.asarray(x)


def _leaves(x):
    if isinstance(x, dict):
        out = []
        for k in sorted(x):
            out += _leaves(x[k])
        return out
    if isinstance(x, (tuple, list)):
        out = []
        for v in x:
            out += _leaves(v)
        return out
    return [x]


def check_close(result, reference, rtol, atol, dtype=None):
    """Raise AssertionError unless result matches reference (same structure,
    shapes, values within tolerance; and dtype if given)."""
    got, want = _leaves(to_numpy(result)), _leaves(to_numpy(reference))
    if len(got) != len(want):
        raise AssertionError(f'{len(got)} leaves, expected {len(want)}')
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = onp.asarray(g), onp.asarray(w)
        if g.shape != w.shape:
            raise AssertionError(f'leaf {i}: shape {g.shape}, expected {w.shape}')
        if dtype is not None and g.dtype != onp.dtype(dtype):
            raise AssertionError(f'leaf {i}: dtype {g.dtype}, expected {onp.dtype(dtype)}')
        onp.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f'leaf {i}')


# ------------------------------------------------------------------ measuring
# time.perf_counter (wall clock) by default; ``--clock cpu`` uses this process's CPU
# time instead, which other processes on a shared machine disturb less (every
# thread pool is pinned to one thread, so CPU time is the work done).
CLOCK = time.perf_counter


def _time_calls(fn, k):
    clock = CLOCK
    t0 = clock()
    for _ in range(k):
        fn()
    return (clock() - t0) / k


def _first_call(impl, r, settings, log):
    """impl's first (warm-up) call, timed into r: (True, its value), or (False,
    None) with r.status saying why there is none."""
    if isinstance(impl.fn, str) or impl.fn is None:
        r.status = impl.fn or NOT_INSTALLED
        return False, None
    try:
        t0 = CLOCK()
        value = impl.fn()
        r.first = CLOCK() - t0
    except Exception as e:                           # noqa: BLE001 (reported, not hidden)
        r.status = f'error: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ""}'
        log(f'    {impl.name}: {r.status}')
        if getattr(settings, 'verbose', False):
            traceback.print_exc()
        return False, None
    return True, value


def _check_result(impl, r, value, ref, rtol, atol, log):
    """Whether value passes impl's check against ref (no reference: it passes);
    r.status says WRONG where it does not."""
    if not impl.check or ref is None:
        return True
    try:
        check_close(value, ref, rtol, atol, impl.dtype)
    except AssertionError as e:
        msg = ' '.join(str(e).split())[:200]
        r.status = f'WRONG: {msg}'
        log(f'    {impl.name}: {r.status}')
        return False
    return True


def _calls_and_rounds(fn, settings):
    """Calls per round (one round lasts about target_s) and how many rounds fit the budget."""
    t = _time_calls(fn, 1)
    if t < settings.target_s / 50:                    # refine with a few calls
        t = _time_calls(fn, max(1, int(settings.target_s / 10 / max(t, 1e-9))))
    calls = max(1, math.ceil(settings.target_s / max(t, 1e-9)))
    rounds = settings.rounds
    if t * rounds > settings.budget_s:
        rounds = max(1, min(rounds, int(settings.budget_s / t)))
    return calls, rounds


def _paired_ratios(results, col):
    """Each timed result's median per-round ratio to the timed result ``col``."""
    cb = results.get(col)
    if cb is None or not cb.timed:
        return
    for res in results.values():
        if not res.timed:
            continue
        pairs = [a / b for a, b in zip(res.times, cb.times) if a is not None and b is not None]
        if pairs:
            res.ratios[col] = statistics.median(pairs)


def _warm_up(settings, impls, baseline, reference, rtol, atol, log):
    """Warm-up calls and checks, the baseline first (its result is the reference
    where the case and the implementation give none): {name: Result}, and the
    implementations ready to be timed."""
    results = {}
    ready = []
    base_value = None
    for impl in sorted(impls, key=lambda i: i.name != baseline):
        r = Result(impl.name)
        r.note = impl.note
        results[impl.name] = r
        called, value = _first_call(impl, r, settings, log)
        if not called:
            continue
        if impl.name == baseline:
            base_value = value
        ref = impl.reference if impl.reference is not None else (
            reference if reference is not None else base_value)
        if _check_result(impl, r, value, ref, rtol, atol, log):
            ready.append(impl)
    return results, ready


def measure(settings, impls, baseline, reference=None, rtol=1e-7, atol=0.0,
            ratio_to=(), log=print, title=''):
    """Check and time ``impls`` (a list of Impl); ``baseline`` names one of them.
    Returns {name: Result} in the order given.  ``reference`` defaults to the
    baseline's own result.  ``ratio_to`` names further columns of paired ratios."""
    # 1. warm-up calls and checks
    results, ready = _warm_up(settings, impls, baseline, reference, rtol, atol, log)
    # 2. calls per round
    plan = {}
    for impl in ready:
        plan[impl.name] = _calls_and_rounds(impl.fn, settings)
        results[impl.name].calls = plan[impl.name][0]
    # 3. interleaved rounds, order rotated each round
    for rnd in range(settings.rounds):
        order = ready[rnd % len(ready):] + ready[:rnd % len(ready)] if ready else []
        gc.collect()
        for impl in order:
            calls, rounds = plan[impl.name]
            res = results[impl.name]
            res.times.append(_time_calls(impl.fn, calls) if rnd < rounds else None)
    # 4. paired ratios
    for col in (baseline,) + tuple(ratio_to):
        _paired_ratios(results, col)
    if title:
        summary = ', '.join(f'{n}={fmt_time(r.median)}' for n, r in results.items() if r.timed)
        log(f'  {title}: {summary}')
    return results


# ------------------------------------------------------------------ formatting
def fmt_time(t):
    if t is None:
        return '—'
    if t >= 1:
        return f'{t:.3g} s'
    if t >= 1e-3:
        return f'{t * 1e3:.3g} ms'
    return f'{t * 1e6:.3g} µs'


def fmt_ratio(r):
    if r is None:
        return '—'
    return f'{r:.3g}×'


def _timed_row(name, r, baseline, ratio_to, per_op, extra):
    row = [fmt_time(r.median)]
    if per_op:
        row.append(f'{r.median / per_op * 1e6:.3g}')
    row += [fmt_ratio(r.ratios.get(c)) for c in (baseline,) + tuple(ratio_to)]
    row += [vals.get(name, '') for vals in extra.values()]
    n_rounds = sum(t is not None for t in r.times)
    return row + [fmt_time(r.first), f'{r.calls} × {n_rounds}',
                  'ok' + (f'; {r.note}' if r.note else '')]


def _untimed_row(r, n_blank):
    return ([r.status if r.status != 'ok' else '—'] + [''] * n_blank
            + [fmt_time(r.first) if r.first else '', '', r.note])


def table(results, baseline, ratio_to=(), ratio_names=None, per_op=None, extra=None):
    """A Markdown table of one case.  ``per_op``: number of primitive operations
    per call (adds a µs/op column).  ``extra``: {column: {impl: text}}."""
    ratio_names = ratio_names or {}
    extra = extra or {}
    cols = (['implementation', 'median / call'] + (['µs / op'] if per_op else [])
            + [f'ratio vs {ratio_names.get(c, c)}' for c in (baseline,) + tuple(ratio_to)]
            + list(extra) + ['first call', 'calls × rounds', 'check / note'])
    lines = ['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]
    for name, r in results.items():
        row = [name] + (_timed_row(name, r, baseline, ratio_to, per_op, extra) if r.timed
                        else _untimed_row(r, len(cols) - 5))
        lines.append('| ' + ' | '.join(str(c) for c in row) + ' |')
    return '\n'.join(lines)


class Report:
    """Sections of Markdown and the targets table, filled by the workloads."""

    def __init__(self):
        self.sections = []     # (workload id, title, markdown)
        self.targets = []      # (workload id, target, measured, passed: True/False/None)

    def section(self, wid, title, text):
        self.sections.append((wid, title, text))

    def target(self, wid, target, measured, passed):
        self.targets.append((wid, target, measured, passed))

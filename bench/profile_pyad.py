"""``python3 bench/run.py --profile W2,W3``: cProfile of pyad's part of a workload,
top functions by own time and by cumulative time (no peers, no timing table)."""
import cProfile
import io
import pstats
import time

import numpy as onp

import pyad
import pyad.numpy as pnp


def _w1():
    import w1_mlp
    params, X, Y = w1_mlp.make_data(onp.float64)
    vg = pyad.value_and_grad(lambda p: w1_mlp.pyad_loss(p, X, Y))
    return {'W1 value_and_grad float64': lambda: vg(params)}


def _w2():
    import w2_scalar_loops as w
    x = onp.random.default_rng(2).uniform(-1, 1, w.N + 1)
    coeffs = (onp.random.default_rng(2).standard_normal(w.DEGREE + 1) / 4).tolist()
    ga = pyad.grad(lambda v: w.loop_sincos(v, pnp.sin, pnp.cos))
    gb = pyad.grad(lambda t: w.horner(t, coeffs))
    return {'W2a grad of the sin·cos loop': lambda: ga(x), 'W2b grad of Horner': lambda: gb(0.93)}


def _w3():
    import w3_hessian as w
    rng = onp.random.default_rng(3)
    A = rng.standard_normal((w.M, w.N)) / onp.sqrt(w.N)
    x = rng.standard_normal(w.N)
    from common import pyad_logsumexp
    h = pyad.hessian(lambda v: pyad_logsumexp(A @ v) + 0.5 * pnp.sum(v * v))
    return {'W3 hessian': lambda: h(x)}


def _w4():
    import w4_rosenbrock as w
    rng = onp.random.default_rng(4)
    x, v = rng.uniform(-1.5, 1.5, w.N), rng.standard_normal(w.N)
    f = lambda y: w.rosen(y, pnp)      # noqa: E731
    g, hv = pyad.grad(f), pyad.hessianv(f)
    return {'W4 grad': lambda: g(x), 'W4 hessianv': lambda: hv(x, v)}


def _w5():
    import w5_jacobian as w
    rng = onp.random.default_rng(5)
    W = rng.standard_normal((w.N, w.N)) / onp.sqrt(w.N)
    x = rng.standard_normal(w.N)
    f = lambda v: pnp.tanh(W @ v)      # noqa: E731
    return {'W5 jacfwd': lambda: pyad.jacfwd(f)(x), 'W5 jacrev': lambda: pyad.jacrev(f)(x)}


def _w6():
    import w6_sparsemax as w
    rng = onp.random.default_rng(6)
    z = rng.standard_normal((w.ROWS, w.COLS)).astype(onp.float32) * 3
    g = rng.standard_normal((w.ROWS, w.COLS)).astype(onp.float32)

    def fb():
        p, pullback = pyad.vjp(pyad.nn.sparsemax, z)
        return pullback(g)
    return {'W6 sparsemax forward + backward': fb}


def _w7():
    d6 = pyad.diffn(6, lambda x: pnp.sin(x) * pnp.exp(x))
    return {'W7 diffn(6)': lambda: d6(0.7)}


def _w8():
    fp = pyad.grad(lambda a: pyad.fixed_point(lambda a, x: 0.5 * (x + a / x), a, 1.0, tol=1e-12))
    return {'W8 grad(fixed_point)': lambda: fp(2.0)}


TARGETS = {'W1': _w1, 'W2': _w2, 'W3': _w3, 'W4': _w4, 'W5': _w5, 'W6': _w6, 'W7': _w7, 'W8': _w8}


def profile(name, fn, seconds=2.0, top=25):
    fn()
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    calls = max(1, int(seconds / max(one, 1e-6)))
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    out = io.StringIO()
    st = pstats.Stats(prof, stream=out)
    st.strip_dirs().sort_stats('tottime').print_stats(top)
    st.sort_stats('cumulative').print_stats(12)
    print(f'==== {name}: {calls} calls, {one * 1e3:.2f} ms per call unprofiled')
    print(out.getvalue())


def main(which):
    for w in which:
        if w not in TARGETS:
            print(f'--profile: no profile target for {w}; choose from {sorted(TARGETS)}')
            continue
        for name, fn in TARGETS[w]().items():
            profile(name, fn)
    return 0

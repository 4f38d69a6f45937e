"""First-call (trace) cost of bench/jit_small.py's workloads: the median of 5 fresh
pyad.jit functions, each traced once (run from the repository root:
``python bench/jit_trace_cost.py``)."""
import math, os, sys, time, statistics
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_here), _here]      # this checkout's pyad, and jit_small
import numpy as onp
import pyad, pyad.numpy as pnp
import jit_small as js

def cases():
    rng = onp.random.default_rng(10)
    X = rng.standard_normal((100, 10)); y = onp.sign(rng.standard_normal(100)); w = rng.standard_normal(10)
    yield '(a) jit(value_and_grad(logistic))', lambda: pyad.jit(pyad.value_and_grad(lambda w: js.logistic_loss(w, X, y, 0.1, pnp))), (w,)
    yield '(a) value_and_grad(jit(logistic))', lambda: (lambda f: (lambda w: pyad.value_and_grad(f)(w)))(pyad.jit(lambda w: js.logistic_loss(w, X, y, 0.1, pnp))), (w,)
    rng = onp.random.default_rng(11)
    X2 = rng.standard_normal((200, 50)); y2 = onp.sign(rng.standard_normal(200)); w2 = 0.1 * rng.standard_normal(50)
    yield '(b) jit(Newton step)', lambda: pyad.jit(js.newton_pyad(X2, y2, 0.1)), (w2,)
    rng = onp.random.default_rng(12)
    A, Av = rng.standard_normal((50, 20)), rng.standard_normal((30, 20))
    b = A @ rng.standard_normal(20); bv = Av @ rng.standard_normal(20)
    yield '(c) jit(grad(hypergradient))', lambda: pyad.jit(pyad.grad(lambda t: js.sgd_validation_loss(t, A, b, Av, bv, pnp))), (math.log(0.1),)
    rng = onp.random.default_rng(13)
    L = rng.standard_normal((10, 10)) / 4; P = L @ L.T + onp.eye(10)
    q0, p0 = rng.standard_normal(10), rng.standard_normal(10)
    gu = pyad.grad(lambda q: js.neg_log_density(q, P, pnp))
    yield '(d) jit(leapfrog)', lambda: pyad.jit(lambda q, p: js.leapfrog(q, p, gu)), (q0, p0)

print('pyad from', pyad.__file__)
for name, make, args in cases():
    make()(*args)  # warm imports
    times = []
    for _ in range(5):
        f = make()
        t = time.perf_counter(); f(*args); times.append(time.perf_counter() - t)
    print(f'{name:38s} first call {statistics.median(times)*1e3:8.2f} ms')

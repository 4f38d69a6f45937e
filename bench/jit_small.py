"""W10 (JIT): small problems, where per-primitive dispatch dominates, eager and jitted.

(a) value and gradient of an L2-regularised logistic regression, 100 x 10 data;
(b) a Newton step (gradient, Hessian, solve) of a regularised logistic regression, d = 50;
(c) a hypergradient: d(validation loss)/d(log lambda) through 30 SGD steps of a ridge
    regression, d = 20;
(d) an HMC leapfrog trajectory (20 steps) on a 10-d target;
(e) W2's scalar loops (sin-cos chain, Horner), per scalar operation;
(f) W4 (Rosenbrock, n = 10^5) gradient and HVP, eager and jitted, in float64 and float32;
(g) W1 (MLP 784-512-512-10, batch 256, float64) value and gradient, eager and jitted;
(h) a 2-d elementwise chain (512 x 512, float64 and float32) and the gradient of its
    sum, eager, jitted and by hand.

(a) and (b) also show a derivative of the jitted loss (``value_and_grad(jit(loss))``,
the Newton step from ``grad`` and ``hessian`` of ``jit(loss)``): compiled programs
run under the operators.

Every case has a hand-written NumPy baseline; the "first call" column of the jitted
rows is the trace (it includes one run of the compiled program)."""
import math

import numpy as onp

import pyad
import pyad.numpy as pnp
from harness import Impl, measure, table, NOT_INSTALLED

import w2_scalar_loops as w2
import w4_rosenbrock as w4
import w1_mlp as w1


# ---------------------------------------------------------------- (a) logistic regression
def logistic_loss(w, X, y, lam, xp):
    z = X @ w
    return xp.mean(xp.logaddexp(0.0, -y * z)) + lam * xp.sum(w * w)


def logistic_problem():
    """(w, X, y, lam) on the host: 100 samples, 10 features."""
    rng = onp.random.default_rng(10)
    X = rng.standard_normal((100, 10))
    y = onp.sign(rng.standard_normal(100))
    w = rng.standard_normal(10)
    return w, X, y, 0.1


def logistic_hand(w, X, y, lam, xp=onp):
    m = -y * (X @ w)
    value = xp.mean(xp.logaddexp(0.0, m)) + lam * xp.dot(w, w)
    s = 0.5 * (1.0 + xp.tanh(0.5 * m))              # sigmoid(m)
    return value, X.T @ (-y * s) / len(y) + 2.0 * lam * w


# ---------------------------------------------------------------- (b) Newton step
def newton_problem():
    """(w, X, y, lam) on the host: 200 samples, d = 50."""
    rng = onp.random.default_rng(11)
    X = rng.standard_normal((200, 50))
    y = onp.sign(rng.standard_normal(200))
    w = 0.1 * rng.standard_normal(50)
    return w, X, y, 0.1


def newton_hand(w, X, y, lam, xp=onp):
    m = -y * (X @ w)
    s = 0.5 * (1.0 + xp.tanh(0.5 * m))
    n = len(y)
    g = X.T @ (-y * s) / n + 2.0 * lam * w
    H = (X.T * (s * (1.0 - s))) @ X / n + 2.0 * lam * xp.eye(len(w), dtype=w.dtype)
    return w - xp.linalg.solve(H, g)


def newton_pyad(X, y, lam, jit_loss=False):
    """The Newton step; ``jit_loss``: its derivatives are of the jitted loss
    (``grad(jit(loss))``: compiled programs under the operators)."""
    loss = lambda w: logistic_loss(w, X, y, lam, pnp)      # noqa: E731
    if jit_loss:
        loss = pyad.jit(loss)
    g, H = pyad.grad(loss), pyad.hessian(loss)

    def step(w):
        return w - pyad.linalg.solve(H(w), g(w))
    return step


# ---------------------------------------------------------------- (c) hypergradient
STEPS, LR = 30, 0.05


def sgd_validation_loss(log_lam, A, b, Av, bv, xp):
    lam = xp.exp(log_lam)
    w = xp.zeros_like(A[0])             # on A's device
    n = A.shape[0]
    for _ in range(STEPS):
        grad = 2.0 * (A.T @ (A @ w - b)) / n + 2.0 * lam * w
        w = w - LR * grad
    r = Av @ w - bv
    return xp.mean(r * r)


def hypergradient_problem():
    """(log_lam, A, b, Av, bv) on the host: 50 training and 30 validation rows, d = 20."""
    rng = onp.random.default_rng(12)
    A, Av = rng.standard_normal((50, 20)), rng.standard_normal((30, 20))
    w_true = rng.standard_normal(20)
    b = A @ w_true + 0.1 * rng.standard_normal(50)
    bv = Av @ w_true + 0.1 * rng.standard_normal(30)
    return math.log(0.1), A, b, Av, bv


def hypergradient_hand(log_lam, A, b, Av, bv, xp=onp):
    """Forward mode by hand: w and its tangent dw/dlog_lam."""
    lam = math.exp(log_lam)
    n = A.shape[0]
    w, dw = xp.zeros_like(A[0]), xp.zeros_like(A[0])
    AtA, Atb = A.T @ A, A.T @ b
    for _ in range(STEPS):
        grad = 2.0 * (AtA @ w - Atb) / n + 2.0 * lam * w
        dgrad = 2.0 * (AtA @ dw) / n + 2.0 * lam * w + 2.0 * lam * dw
        w, dw = w - LR * grad, dw - LR * dgrad
    r = Av @ w - bv
    return 2.0 * xp.mean(r * (Av @ dw))


# ---------------------------------------------------------------- (d) HMC leapfrog
LEAPFROG, EPS = 20, 0.05


def neg_log_density(q, P, xp):
    """A 10-d non-Gaussian target: a correlated Gaussian with quartic tails."""
    return 0.5 * q @ (P @ q) + 0.05 * xp.sum(q ** 4)


def hmc_problem():
    """(q0, p0, P) on the host: a 10-d target."""
    rng = onp.random.default_rng(13)
    L = rng.standard_normal((10, 10)) / 4
    P = L @ L.T + onp.eye(10)
    q0, p0 = rng.standard_normal(10), rng.standard_normal(10)
    return q0, p0, P


def neg_log_density_grad(q, P):
    return P @ q + 0.2 * q ** 3


def leapfrog(q, p, grad_u):
    p = p - 0.5 * EPS * grad_u(q)
    for i in range(LEAPFROG):
        q = q + EPS * p
        if i < LEAPFROG - 1:
            p = p - EPS * grad_u(q)
    p = p - 0.5 * EPS * grad_u(q)
    return q, p


# ---------------------------------------------------------------- the report
def _ratio_row(res, base, name):
    r = res[name]
    return r.ratios[base] if r.timed else None


def _target(report, label, res, base, name, limit):
    ratio = _ratio_row(res, base, name)
    if ratio is None:
        report.target('JIT', label, res[name].status, False)
    else:
        report.target('JIT', label, f'{ratio:.2f}×', ratio <= limit)


def _peer_rows(ctx, name, make_autograd, make_jax, make_torch=None):
    peers = ctx.peers
    rows = []
    if peers.autograd:
        rows.append(Impl(f'autograd {name}', make_autograd(peers.autograd, peers.anp)))
    else:
        rows.append(Impl(f'autograd {name}', NOT_INSTALLED))
    if peers.jax:
        rows.append(Impl(f'jax jit {name}', peers.jax_ready(make_jax(peers.jax, peers.jnp))))
    else:
        rows.append(Impl(f'jax jit {name}', NOT_INSTALLED))
    if make_torch is not None:
        rows.append(Impl(f'torch {name}', make_torch(peers) if peers.torch else NOT_INSTALLED))
    return rows


def _torch_value_and_grad(peers, loss, w):
    """A torch call of value and gradient of loss(tensor) at w, as NumPy values."""
    def run():
        wt = peers.tensor(w, requires_grad=True)
        value = loss(wt)
        value.backward()
        return value.item(), wt.grad.numpy()
    return run


def run_logistic(ctx):
    w, X, y, lam = logistic_problem()
    vg = pyad.value_and_grad(lambda w: logistic_loss(w, X, y, lam, pnp))
    jvg = pyad.jit(vg)
    vgj = pyad.value_and_grad(pyad.jit(lambda w: logistic_loss(w, X, y, lam, pnp)))

    def ag(autograd, anp):
        f = autograd.value_and_grad(lambda w: logistic_loss(w, X, y, lam, anp))
        return lambda: f(w)

    def jx(jax, jnp):
        f = jax.jit(jax.value_and_grad(lambda w: logistic_loss(w, jnp.asarray(X), jnp.asarray(y),
                                                               lam, jnp)))
        jw = jnp.asarray(w)
        return lambda: f(jw)
    def tc(peers):
        torch = peers.torch
        Xt, yt = peers.tensor(X), peers.tensor(y)
        def loss(wt):
            m = -yt * (Xt @ wt)
            return torch.mean(torch.logaddexp(torch.zeros_like(m), m)) + lam * torch.sum(wt * wt)
        return _torch_value_and_grad(peers, loss, w)
    impls = [Impl('hand-written numpy', lambda: logistic_hand(w, X, y, lam)),
             Impl('pyad value_and_grad (eager)', lambda: vg(w)),
             Impl('pyad jit(value_and_grad)', lambda: jvg(w)),
             Impl('pyad value_and_grad(jit(loss))', lambda: vgj(w))] + \
        _peer_rows(ctx, 'value_and_grad', ag, jx, tc)
    base = 'hand-written numpy'
    res = measure(ctx.settings, impls, base, rtol=1e-10, atol=1e-12, log=ctx.log,
                  title='JIT logistic', ratio_to=('pyad value_and_grad (eager)',))
    _target(ctx.report, 'jitted logistic value+grad (100×10) ≤ 1.5× hand-written', res, base,
            'pyad jit(value_and_grad)', 1.5)
    return res, base


def run_newton(ctx):
    w, X, y, lam = newton_problem()
    step = newton_pyad(X, y, lam)
    jstep = pyad.jit(step)
    step_of_jit = newton_pyad(X, y, lam, jit_loss=True)
    impls = [Impl('hand-written numpy', lambda: newton_hand(w, X, y, lam)),
             Impl('pyad Newton step (eager)', lambda: step(w)),
             Impl('pyad jit(Newton step)', lambda: jstep(w)),
             Impl('pyad Newton step of jit(loss)', lambda: step_of_jit(w))]
    base = 'hand-written numpy'
    res = measure(ctx.settings, impls, base, rtol=1e-9, atol=1e-12, log=ctx.log,
                  title='JIT Newton', ratio_to=('pyad Newton step (eager)',))
    _target(ctx.report, 'jitted Newton step (d = 50) ≤ 2× hand-written', res, base,
            'pyad jit(Newton step)', 2.0)
    return res, base


def run_hypergradient(ctx):
    log_lam, A, b, Av, bv = hypergradient_problem()
    hg = pyad.grad(lambda t: sgd_validation_loss(t, A, b, Av, bv, pnp))
    jhg = pyad.jit(hg)
    impls = [Impl('hand-written numpy (forward mode by hand)',
                  lambda: hypergradient_hand(log_lam, A, b, Av, bv)),
             Impl('pyad grad (eager)', lambda: hg(log_lam)),
             Impl('pyad jit(grad)', lambda: jhg(log_lam))]
    base = 'hand-written numpy (forward mode by hand)'
    res = measure(ctx.settings, impls, base, rtol=1e-9, atol=1e-12, log=ctx.log,
                  title='JIT hypergradient', ratio_to=('pyad grad (eager)',))
    _target(ctx.report, 'jitted hypergradient (30 SGD steps, d = 20) ≤ 3× hand-written', res,
            base, 'pyad jit(grad)', 3.0)
    return res, base


def run_hmc(ctx):
    q0, p0, P = hmc_problem()
    grad_u = pyad.grad(lambda q: neg_log_density(q, P, pnp))
    traj = lambda q, p: leapfrog(q, p, grad_u)              # noqa: E731
    jtraj = pyad.jit(traj)
    impls = [Impl('hand-written numpy', lambda: leapfrog(q0, p0, lambda q: neg_log_density_grad(q, P))),
             Impl('pyad leapfrog (eager grad)', lambda: traj(q0, p0)),
             Impl('pyad jit(leapfrog)', lambda: jtraj(q0, p0))]
    base = 'hand-written numpy'
    res = measure(ctx.settings, impls, base, rtol=1e-10, atol=1e-12, log=ctx.log,
                  title='JIT HMC', ratio_to=('pyad leapfrog (eager grad)',))
    return res, base


def run_scalar_loops(ctx):
    rng = onp.random.default_rng(2)
    x = rng.uniform(-1.0, 1.0, w2.N + 1)
    xs = x.tolist()
    ga = pyad.grad(lambda v: w2.loop_sincos(v, pnp.sin, pnp.cos))
    jga = pyad.jit(ga)
    impls = [Impl('hand-written gradient (python floats, math)', lambda: w2.hand_grad_sincos(xs)),
             Impl('pyad grad (eager)', lambda: ga(x)),
             Impl('pyad jit(grad)', lambda: jga(x))]
    base = 'hand-written gradient (python floats, math)'
    res_a = measure(ctx.settings, impls, base, reference=w2.closed_grad_sincos(x), rtol=1e-10,
                    atol=1e-12, log=ctx.log, title='JIT W2a', ratio_to=('pyad grad (eager)',))
    coeffs = rng.uniform(-1.0, 1.0, w2.DEGREE + 1).tolist()
    t = 0.7
    gb = pyad.diff(lambda s: w2.horner(s, coeffs))
    jgb = pyad.jit(gb)
    impls = [Impl('hand-written derivative (python floats)', lambda: w2.hand_horner_derivative(t, coeffs)),
             Impl('pyad diff (eager)', lambda: gb(t)),
             Impl('pyad jit(diff)', lambda: jgb(t))]
    base_b = 'hand-written derivative (python floats)'
    res_b = measure(ctx.settings, impls, base_b, rtol=1e-10, atol=1e-12, log=ctx.log,
                    title='JIT W2b', ratio_to=('pyad diff (eager)',))
    for res, ops, label in ((res_a, w2.OPS_A, 'W2a'), (res_b, w2.OPS_B, 'W2b')):
        name = [n for n in res if n.startswith('pyad jit')][0]
        r = res[name]
        per_op = r.median / ops * 1e6 if r.timed else None
        ctx.report.target('JIT', f'{label} scalar loop jitted ≤ 0.3 µs per operation',
                          f'{per_op:.2f} µs' if per_op is not None else r.status,
                          per_op is not None and per_op <= 0.3)
    return (res_a, base, w2.OPS_A), (res_b, base_b, w2.OPS_B)


def run_rosenbrock(ctx, dtype=onp.float64):
    rng = onp.random.default_rng(4)
    x = rng.uniform(-1.5, 1.5, w4.N).astype(dtype)
    v = rng.standard_normal(w4.N).astype(dtype)
    f = lambda y: w4.rosen(y, pnp)                          # noqa: E731
    g, hvp = pyad.grad(f), pyad.hessianv(f)
    jg, jhvp = pyad.jit(g), pyad.jit(hvp)
    def ag(autograd, anp):
        return lambda: autograd.grad(lambda y: w4.rosen(y, anp))(x)

    def jx(jax, jnp):
        fg = jax.jit(jax.grad(lambda y: w4.rosen(y, jnp)))
        jxx = jnp.asarray(x)
        return lambda: fg(jxx)

    def tc(peers):
        def run():
            xt = peers.tensor(x, requires_grad=True)
            w4.rosen(xt, peers.torch).backward()
            return xt.grad.numpy()
        return run
    single = dtype == onp.float32
    # float32: the sums of 10^5 terms are ordered differently by each implementation
    rtol, atol = (1e-4, 1e-2) if single else (1e-10, 1e-8)
    impls = [Impl('hand-written numpy gradient', lambda: w4.rosen_grad(x)),
             Impl('pyad grad (eager)', lambda: g(x)),
             Impl('pyad jit(grad)', lambda: jg(x))] + \
        ([] if single else _peer_rows(ctx, 'grad', ag, jx, tc))
    base_g = 'hand-written numpy gradient'
    tag = ' float32' if single else ''
    res_g = measure(ctx.settings, impls, base_g, rtol=rtol, atol=atol, log=ctx.log,
                    title=f'JIT W4 grad{tag}', ratio_to=('pyad grad (eager)',))
    impls = [Impl('hand-written numpy HVP', lambda: w4.rosen_hvp(x, v)),
             Impl('pyad hessianv (eager)', lambda: hvp(x, v)),
             Impl('pyad jit(hessianv)', lambda: jhvp(x, v))]
    base_h = 'hand-written numpy HVP'
    res_h = measure(ctx.settings, impls, base_h, rtol=rtol, atol=atol, log=ctx.log,
                    title=f'JIT W4 HVP{tag}', ratio_to=('pyad hessianv (eager)',))
    if not single:
        _target(ctx.report, 'W4 gradient jitted ≤ 1× hand-written', res_g, base_g,
                'pyad jit(grad)', 1.0)
        _target(ctx.report, 'W4 HVP jitted ≤ 1× hand-written', res_h, base_h,
                'pyad jit(hessianv)', 1.0)
    return (res_g, base_g), (res_h, base_h)


# ---------------------------------------------------------------- (h) an n-d elementwise chain
CHAIN_SHAPE = (512, 512)


def chain(x, y):
    return ((x - 0.1) * y + x * x) / (y + 2.0) - 3.0 * x


def chain_grad(x, y):
    """d/dx of sum(chain(x, y)), by hand."""
    return (y + 2.0 * x) / (y + 2.0) - 3.0


def run_chain(ctx, dtype):
    """A 2-d elementwise chain: its value (eager pyad on plain arrays is NumPy
    itself) and the gradient of its sum, jitted (fused into loops with numba)."""
    rng = onp.random.default_rng(5)
    x = rng.standard_normal(CHAIN_SHAPE).astype(dtype)
    y = rng.uniform(0.5, 2.0, CHAIN_SHAPE).astype(dtype)
    name = onp.dtype(dtype).name
    jchain = pyad.jit(chain)
    impls = [Impl('numpy (= eager pyad on plain arrays)', lambda: chain(x, y)),
             Impl('pyad jit(chain)', lambda: jchain(x, y))]
    base_v = 'numpy (= eager pyad on plain arrays)'
    res_v = measure(ctx.settings, impls, base_v, rtol=0.0, atol=0.0, log=ctx.log,
                    title=f'JIT chain {name}')
    g = pyad.grad(lambda x: pnp.sum(chain(x, y)))
    jg = pyad.jit(g)
    rtol = 1e-5 if dtype == onp.float32 else 1e-12
    impls = [Impl('hand-written numpy gradient', lambda: chain_grad(x, y)),
             Impl('pyad grad (eager)', lambda: g(x)),
             Impl('pyad jit(grad)', lambda: jg(x))]
    base_g = 'hand-written numpy gradient'
    res_g = measure(ctx.settings, impls, base_g, rtol=rtol, atol=rtol, log=ctx.log,
                    title=f'JIT chain grad {name}', ratio_to=('pyad grad (eager)',))
    return (res_v, base_v), (res_g, base_g)


def run_mlp(ctx):
    """W1's large case: the program is a few dozen BLAS-bound calls, so jit can only
    keep up (it removes dispatch, which is small here)."""
    params, X, Y = w1.make_data(onp.float64)
    vg = pyad.value_and_grad(w1.pyad_loss)
    jvg = pyad.jit(vg)
    impls = [Impl('hand-written numpy value+grad', lambda: w1.numpy_value_and_grad(params, X, Y)),
             Impl('pyad value_and_grad (eager)', lambda: vg(params, X, Y)),
             Impl('pyad jit(value_and_grad)', lambda: jvg(params, X, Y))]
    base = 'hand-written numpy value+grad'
    res = measure(ctx.settings, impls, base, rtol=1e-9, atol=1e-10, log=ctx.log,
                  title='JIT W1', ratio_to=('pyad value_and_grad (eager)',))
    eager, jitted = res['pyad value_and_grad (eager)'], res['pyad jit(value_and_grad)']
    ok = eager.timed and jitted.timed
    ratio = jitted.median / eager.median if ok else None
    ctx.report.target('JIT', 'W1 (MLP) value+grad no slower jitted than eager',
                      f'{ratio:.2f}' if ok else jitted.status, ok and ratio <= 1.0)
    return res, base


def _no_slower(report, cases):
    """Jitted no slower than eager after the first call, in every case."""
    worst = None
    for res, base in cases:
        eager = [n for n in res if n.startswith('pyad') and 'jit' not in n][0]
        jitted = [n for n in res if n.startswith('pyad jit')][0]
        if res[jitted].timed and res[eager].timed:
            ratio = res[jitted].median / res[eager].median
            worst = ratio if worst is None else max(worst, ratio)
    report.target('JIT', 'no workload slower jitted than eager (worst jitted / eager)',
                  f'{worst:.2f}' if worst is not None else 'not measured',
                  worst is not None and worst <= 1.0)


def run(ctx):
    sections = []
    cases = []
    for title, fn in (('(a) logistic regression value and gradient, 100 × 10', run_logistic),
                      ('(b) Newton step, d = 50 (200 samples)', run_newton),
                      ('(c) hypergradient through 30 SGD steps, d = 20', run_hypergradient),
                      ('(d) HMC leapfrog trajectory, 20 steps, 10-d target', run_hmc)):
        res, base = fn(ctx)
        cases.append((res, base))
        eager = [n for n in res if n.startswith('pyad') and 'jit' not in n][0]
        sections.append(f'### {title}\n\n' + table(res, base, ratio_to=(eager,)))
    (ra, ba, oa), (rb, bb, ob) = run_scalar_loops(ctx)
    cases += [(ra, ba), (rb, bb)]
    sections.append('### (e) W2 scalar loops\n\n' + table(ra, ba, per_op=oa) + '\n\n'
                    + table(rb, bb, per_op=ob))
    (rg, bg), (rh, bh) = run_rosenbrock(ctx)
    cases += [(rg, bg), (rh, bh)]
    sections.append('### (f) W4 Rosenbrock, n = 10^5\n\n' + table(rg, bg) + '\n\n' + table(rh, bh))
    (rg, bg), (rh, bh) = run_rosenbrock(ctx, onp.float32)
    cases += [(rg, bg), (rh, bh)]
    sections.append('### (f32) W4 Rosenbrock, n = 10^5, float32\n\n' + table(rg, bg) + '\n\n'
                    + table(rh, bh))
    chains = []
    for dtype in (onp.float64, onp.float32):
        (rv, bv), (rc, bc) = run_chain(ctx, dtype)
        cases.append((rc, bc))
        chains.append(f'{onp.dtype(dtype).name}, value and gradient of the sum:\n\n'
                      + table(rv, bv) + '\n\n' + table(rc, bc))
    sections.append(f'### (h) a 2-d elementwise chain, {CHAIN_SHAPE[0]} × {CHAIN_SHAPE[1]}: '
                    f'`((x - 0.1) * y + x * x) / (y + 2.0) - 3.0 * x`\n\n' + '\n\n'.join(chains))
    rm, bm = run_mlp(ctx)
    cases.append((rm, bm))
    sections.append('### (g) W1 MLP value and gradient, float64, batch 256\n\n' + table(rm, bm))
    _no_slower(ctx.report, cases)
    ctx.report.section('JIT', 'JIT: small problems, eager and jitted',
                       __doc__.split('\n\n', 1)[1] + '\n\n' + '\n\n'.join(sections))

"""W2: gradients of scalar Python loops, reported as time per scalar operation.

(a) f(x) = Σ_{i<1000} sin(x_i)·cos(x_{i+1}) over the elements of a 1001-vector:
    6 primitive operations per term (x[i], x[i+1], sin, cos, *, +) = 6000 ops.
(b) Horner's rule for a degree-1000 polynomial, differentiated in the point t
    (coefficients are Python floats): y = y*t + c_k, 2 ops per step = 2000 ops.

Baseline: the hand-written derivative, also a scalar loop over Python floats
(``math``), which is what one would write by hand for such code."""
import math

import numpy as onp

import pyad
import pyad.numpy as pnp
from harness import Impl, measure, table, NOT_INSTALLED

N = 1000
OPS_A = 6 * N
DEGREE = 1000
OPS_B = 2 * DEGREE


# ---------------------------------------------------------------- (a) sin·cos chain
def loop_sincos(x, sin, cos):
    s = 0.0
    for i in range(N):
        s = s + sin(x[i]) * cos(x[i + 1])
    return s


def hand_grad_sincos(xs):
    """xs: a list of Python floats."""
    g = [0.0] * (N + 1)
    sin, cos = math.sin, math.cos
    for i in range(N):
        a, b = xs[i], xs[i + 1]
        g[i] += cos(a) * cos(b)
        g[i + 1] -= sin(a) * sin(b)
    return onp.array(g)


def closed_grad_sincos(x):
    g = onp.zeros_like(x)
    g[:-1] += onp.cos(x[:-1]) * onp.cos(x[1:])
    g[1:] -= onp.sin(x[:-1]) * onp.sin(x[1:])
    return g


# ---------------------------------------------------------------- (b) Horner
def horner(t, coeffs):
    """coeffs[0] is the leading coefficient."""
    y = coeffs[0]
    for c in coeffs[1:]:
        y = y * t + c
    return y


def hand_horner_derivative(t, coeffs):
    y, dy = coeffs[0], 0.0
    for c in coeffs[1:]:
        dy = dy * t + y
        y = y * t + c
    return dy


def run(ctx):
    report, settings, peers = ctx.report, ctx.settings, ctx.peers
    rng = onp.random.default_rng(2)
    x = rng.uniform(-1.0, 1.0, N + 1)
    xs = x.tolist()
    ref = closed_grad_sincos(x)

    # ---- (a)
    grad_a = pyad.grad(lambda v: loop_sincos(v, pnp.sin, pnp.cos))
    impls = [
        Impl('hand-written gradient (python floats, math)', lambda: hand_grad_sincos(xs)),
        Impl('plain f, no derivative (python floats, math)',
             lambda: loop_sincos(xs, math.sin, math.cos), check=False, note='value only'),
        Impl('plain f, no derivative (numpy elements, np.sin)',
             lambda: loop_sincos(x, onp.sin, onp.cos), check=False, note='value only'),
        Impl('pyad grad', lambda: grad_a(x)),
    ]
    if peers.autograd:
        anp = peers.anp
        ag = peers.autograd.grad(lambda v: loop_sincos(v, anp.sin, anp.cos))
        impls.append(Impl('autograd grad', lambda: ag(x)))
    else:
        impls.append(Impl('autograd grad', NOT_INSTALLED))
    if peers.jax:
        jax, jnp = peers.jax, peers.jnp
        jx = jnp.asarray(x)
        jg = jax.grad(lambda v: loop_sincos(v, jnp.sin, jnp.cos))
        impls.append(Impl('jax eager grad', 'skipped: eager JAX indexes and dispatches each scalar '
                          'op separately (seconds per call, over a minute for the first)'))
        if settings.quick:
            impls.append(Impl('jax jit grad', 'skipped in --quick (compiling the unrolled loop '
                              'takes tens of seconds)'))
        else:
            jjg = jax.jit(jg)
            impls.append(Impl('jax jit grad', peers.jax_ready(lambda: jjg(jx)),
                              note='loop unrolled at trace time; first call = trace + compile'))
    else:
        impls += [Impl('jax eager grad', NOT_INSTALLED), Impl('jax jit grad', NOT_INSTALLED)]
    if peers.torch:
        torch = peers.torch
        tx = peers.tensor(x, True)

        def tg():
            s = loop_sincos(tx, torch.sin, torch.cos)
            return torch.autograd.grad(s, tx)[0]
        impls.append(Impl('torch eager grad', tg))
    else:
        impls.append(Impl('torch eager grad', NOT_INSTALLED))
    base = 'hand-written gradient (python floats, math)'
    res_a = measure(settings, impls, base, reference=ref, rtol=1e-10, atol=1e-12,
                    log=ctx.log, title='W2a sin·cos')

    # ---- (b)
    coeffs = (rng.standard_normal(DEGREE + 1) / 4).tolist()
    t0 = 0.93
    ref_b = float(onp.polyval(onp.polyder(onp.array(coeffs)), t0))
    grad_b = pyad.grad(lambda t: horner(t, coeffs))
    impls = [
        Impl('hand-written derivative (python floats)', lambda: hand_horner_derivative(t0, coeffs)),
        Impl('plain f, no derivative (python floats)', lambda: horner(t0, coeffs), check=False,
             note='value only'),
        Impl('pyad grad', lambda: grad_b(t0)),
    ]
    if peers.autograd:
        agb = peers.autograd.grad(lambda t: horner(t, coeffs))
        impls.append(Impl('autograd grad', lambda: agb(t0)))
    else:
        impls.append(Impl('autograd grad', NOT_INSTALLED))
    if peers.jax:
        jax, jnp = peers.jax, peers.jnp
        jt = jnp.asarray(t0)
        jgb = jax.grad(lambda t: horner(t, coeffs))
        if settings.quick:
            impls.append(Impl('jax eager grad', 'skipped in --quick (about a second per call)'))
            impls.append(Impl('jax jit grad', 'skipped in --quick (compile takes seconds)'))
        else:
            impls.append(Impl('jax eager grad', peers.jax_ready(lambda: jgb(jt))))
            jjgb = jax.jit(jgb)
            impls.append(Impl('jax jit grad', peers.jax_ready(lambda: jjgb(jt)),
                              note='loop unrolled at trace time; first call = trace + compile'))
    else:
        impls += [Impl('jax eager grad', NOT_INSTALLED), Impl('jax jit grad', NOT_INSTALLED)]
    if peers.torch:
        torch = peers.torch
        tt = torch.tensor(t0, dtype=torch.float64, requires_grad=True)
        impls.append(Impl('torch eager grad',
                          lambda: torch.autograd.grad(horner(tt, coeffs), tt)[0]))
    else:
        impls.append(Impl('torch eager grad', NOT_INSTALLED))
    base_b = 'hand-written derivative (python floats)'
    res_b = measure(settings, impls, base_b, reference=ref_b, rtol=1e-9, atol=1e-9,
                    log=ctx.log, title='W2b Horner')

    text = (f'(a) `pyad.grad` of Σ_(i<{N}) sin(x_i)·cos(x_(i+1)) over the elements of a '
            f'{N + 1}-vector: {OPS_A} scalar operations per call (per term: x[i], x[i+1], sin, cos, '
            f'×, + = 6). Baseline: the hand-written gradient as a scalar loop over Python floats. '
            f'Checked against the closed-form gradient.\n\n'
            + table(res_a, base, per_op=OPS_A, ratio_names={base: 'hand-written'})
            + f'\n\n(b) `pyad.grad` of Horner\'s rule for a degree-{DEGREE} polynomial in the '
              f'point t (Python-float coefficients): {OPS_B} scalar operations (× and + per step). '
              f'Baseline: hand-written derivative (Horner for p and p\' together). Checked against '
              f'`numpy.polyval(numpy.polyder(c), t)`.\n\n'
            + table(res_b, base_b, per_op=OPS_B, ratio_names={base_b: 'hand-written'}))
    report.section('W2', 'W2: scalar Python loops', text)
    for label, res, ops in (('sin·cos loop', res_a, OPS_A), ('Horner', res_b, OPS_B)):
        r = res['pyad grad']
        ag = res.get('autograd grad')
        if r.timed:
            us = r.median / ops * 1e6
            extra = (f' (autograd: {ag.median / ops * 1e6:.1f} µs/op, '
                     f'{ag.median / r.median:.1f}× slower)') if ag is not None and ag.timed else ''
            report.target('W2', f'{label}: ≤ 3 µs per scalar op under grad', f'{us:.2f} µs/op{extra}',
                          us <= 3.0)
        else:
            report.target('W2', f'{label}: ≤ 3 µs per scalar op under grad', r.status, False)

"""DiffSharp's benchmark table: the cost of every operator in pyad's API as a
multiple of one plain evaluation of the function (the same Python function on
plain floats / arrays), on small standard test functions:

* s: R → R,     s(x) = sin(x)·exp(x)                          (diff, diff2, diffn)
* f: R¹⁰ → R,   f(x) = Σ sin(xᵢ)·exp(xᵢ) + ½ (a·x)²          (grad, gradv, hessian, ...)
* F: R³ → R³,   F(x, y, z) = (x y z, z sin x + y², x eʸ + z³)  (jacobian, curl, div, ...)

Every result is checked against its closed form before it is timed."""
import math

import numpy as onp

import pyad
import pyad.numpy as pnp
from harness import Impl, measure, fmt_time, fmt_ratio

X_S = 0.7


def s(x):
    return pnp.sin(x) * pnp.exp(x)


def s_closed(n, x=X_S):
    return 2 ** (n / 2) * math.exp(x) * math.sin(x + n * math.pi / 4)


def F(v):
    x, y, z = v[0], v[1], v[2]
    return pnp.stack([x * y * z, z * pnp.sin(x) + y * y, x * pnp.exp(y) + z ** 3])


def F_closed(v):
    x, y, z = v
    return onp.array([x * y * z, z * onp.sin(x) + y * y, x * onp.exp(y) + z ** 3])


def F_jacobian(v):
    x, y, z = v
    return onp.array([[y * z, x * z, x * y],
                      [z * onp.cos(x), 2 * y, onp.sin(x)],
                      [onp.exp(y), x * onp.exp(y), 3 * z * z]])


def curl_of(J):
    return onp.array([J[2, 1] - J[1, 2], J[0, 2] - J[2, 0], J[1, 0] - J[0, 1]])


def run(ctx):
    report, settings = ctx.report, ctx.settings
    rng = onp.random.default_rng(8)
    a = rng.standard_normal(10) / 3
    x10 = rng.uniform(-1, 1, 10)
    v10 = rng.standard_normal(10)
    x3 = rng.uniform(0.2, 1.2, 3)
    v3 = rng.standard_normal(3)

    def f(x):
        ax = pnp.sum(a * x)
        return pnp.sum(pnp.sin(x) * pnp.exp(x)) + 0.5 * ax * ax

    fx = float(onp.sum(onp.sin(x10) * onp.exp(x10)) + 0.5 * (a @ x10) ** 2)
    gx = onp.exp(x10) * (onp.sin(x10) + onp.cos(x10)) + (a @ x10) * a
    Hx = onp.diag(2 * onp.exp(x10) * onp.cos(x10)) + onp.outer(a, a)
    Fx, Jx = F_closed(x3), F_jacobian(x3)
    s0, s1, s2, s3 = (s_closed(n) for n in range(4))

    groups = [
        ('s: R → R, s(x) = sin(x)·exp(x)', 'plain s(x)', lambda: s(X_S), s0, [
            ('diff', lambda: pyad.diff(s)(X_S), s1),
            ('fdiff', lambda: pyad.fdiff(s)(X_S), (s0, s1)),
            ('diff2', lambda: pyad.diff2(s)(X_S), s2),
            ('fdiff2', lambda: pyad.fdiff2(s)(X_S), (s0, s2)),
            ('diffn (n = 3)', lambda: pyad.diffn(3, s)(X_S), s3),
            ('fdiffn (n = 3)', lambda: pyad.fdiffn(3, s)(X_S), (s0, s3)),
        ]),
        ('f: R¹⁰ → R, f(x) = Σ sin(xᵢ)·exp(xᵢ) + ½(a·x)²', 'plain f(x)', lambda: f(x10), fx, [
            ('grad', lambda: pyad.grad(f)(x10), gx),
            ('fgrad', lambda: pyad.fgrad(f)(x10), (fx, gx)),
            ('gradv', lambda: pyad.gradv(f)(x10, v10), gx @ v10),
            ('fgradv', lambda: pyad.fgradv(f)(x10, v10), (fx, gx @ v10)),
            ('hessian', lambda: pyad.hessian(f)(x10), Hx),
            ('fhessian', lambda: pyad.fhessian(f)(x10), (fx, Hx)),
            ('hessianv', lambda: pyad.hessianv(f)(x10, v10), Hx @ v10),
            ('fhessianv', lambda: pyad.fhessianv(f)(x10, v10), (fx, Hx @ v10)),
            ('gradhessian', lambda: pyad.gradhessian(f)(x10), (gx, Hx)),
            ('fgradhessian', lambda: pyad.fgradhessian(f)(x10), (fx, gx, Hx)),
            ('gradhessianv', lambda: pyad.gradhessianv(f)(x10, v10), (gx, Hx @ v10)),
            ('fgradhessianv', lambda: pyad.fgradhessianv(f)(x10, v10), (fx, gx, Hx @ v10)),
            ('laplacian', lambda: pyad.laplacian(f)(x10), onp.trace(Hx)),
            ('flaplacian', lambda: pyad.flaplacian(f)(x10), (fx, onp.trace(Hx))),
        ]),
        ('F: R³ → R³, F(x, y, z) = (x y z, z sin x + y², x eʸ + z³)', 'plain F(x)', lambda: F(x3), Fx, [
            ('jacobian', lambda: pyad.jacobian(F)(x3), Jx),
            ('fjacobian', lambda: pyad.fjacobian(F)(x3), (Fx, Jx)),
            ('jacobianv', lambda: pyad.jacobianv(F)(x3, v3), Jx @ v3),
            ('fjacobianv', lambda: pyad.fjacobianv(F)(x3, v3), (Fx, Jx @ v3)),
            ('jacobianT', lambda: pyad.jacobianT(F)(x3), Jx.T),
            ('fjacobianT', lambda: pyad.fjacobianT(F)(x3), (Fx, Jx.T)),
            ('jacobianTv', lambda: pyad.jacobianTv(F)(x3, v3), Jx.T @ v3),
            ('fjacobianTv', lambda: pyad.fjacobianTv(F)(x3, v3), (Fx, Jx.T @ v3)),
            ('jacfwd', lambda: pyad.jacfwd(F)(x3), Jx),
            ('jacrev', lambda: pyad.jacrev(F)(x3), Jx),
            ('curl', lambda: pyad.curl(F)(x3), curl_of(Jx)),
            ('fcurl', lambda: pyad.fcurl(F)(x3), (Fx, curl_of(Jx))),
            ('div', lambda: pyad.div(F)(x3), onp.trace(Jx)),
            ('fdiv', lambda: pyad.fdiv(F)(x3), (Fx, onp.trace(Jx))),
            ('curldiv', lambda: pyad.curldiv(F)(x3), (curl_of(Jx), onp.trace(Jx))),
            ('fcurldiv', lambda: pyad.fcurldiv(F)(x3), (Fx, curl_of(Jx), onp.trace(Jx))),
        ]),
    ]
    lines = ['| function | operator | median / call | ratio to plain evaluation | check |',
             '|---|---|---|---|---|']
    for title, base, plain, plain_ref, ops in groups:
        impls = [Impl(base, plain, reference=plain_ref)]
        for name, fn, ref in ops:
            # a missing operator is reported, not fatal
            if not hasattr(pyad, name.split()[0]):
                impls.append(Impl(name, f'skipped: pyad.{name.split()[0]} is missing'))
                continue
            impls.append(Impl(name, fn, reference=ref))
        res = measure(settings, impls, base, rtol=1e-9, atol=1e-12, log=ctx.log,
                      title=f'table {title.split(":")[0]}')
        for name, r in res.items():
            if r.timed:
                lines.append(f'| {title.split(",")[0]} | {name} | {fmt_time(r.median)} | '
                             f'{fmt_ratio(r.ratios.get(base))} | ok |')
            else:
                lines.append(f'| {title.split(",")[0]} | {name} | — | — | {r.status} |')
    report.section('TABLE', "DiffSharp's table: operator overhead",
                   'Cost of each operator as a multiple of one plain evaluation of the same Python '
                   'function on plain values (median of paired per-round ratios). Test functions:\n\n'
                   + '\n'.join(f'* {g[0]}' for g in groups) + '\n\n' + '\n'.join(lines))

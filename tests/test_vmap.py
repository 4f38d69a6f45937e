"""vmap: against a Python loop over the examples, for every primitive, and nested
with the operators in both orders."""
import numpy as onp
import pytest

import pyad
import pyad.numpy as pnp
import pyad.nn as nn
import pyad.linalg as la
import pyad.scipy.signal
import pyad.scipy.stats
import pyad.scipy.special as sps
from pyad._core import batching
from pyad._core.primitive import all_primitives
from pyad import vmap_rules

B = 3


def _rng(seed=0):
    return onp.random.default_rng(seed)


def _spd(rng, n=3):
    a = rng.standard_normal((n, n))
    return a @ a.T + n * onp.eye(n)


def _draw(spec, rng):
    """One example's argument: a shape (uniform in (-1, 1) shifted), a callable, or
    a value kept as is."""
    if callable(spec):
        return spec(rng)
    if isinstance(spec, tuple) and all(isinstance(d, int) for d in spec):
        return rng.uniform(-1, 1, spec)
    return spec


def _pos(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def _unit(*shape):
    return lambda rng: rng.uniform(-0.9, 0.9, shape)


def _ints(*shape):
    return lambda rng: rng.integers(0, 3, shape)


def _mat(n=3):
    return lambda rng: _spd(rng, n)


def _stack_examples(specs, axes, rng):
    """(one list of per-example arguments per example, the batched arguments)."""
    examples = [[_draw(s, rng) for s in specs] for _ in range(B)]
    batched = []
    for j, a in enumerate(axes):
        if a is None:
            for ex in examples[1:]:
                ex[j] = examples[0][j]
            batched.append(examples[0][j])
        else:
            batched.append(onp.moveaxis(onp.stack([ex[j] for ex in examples]), 0, a))
    return examples, batched


# (name, function, per-example argument specs, in_axes or None for all 0)
UNARY = {
    'absolute': pnp.abs, 'arctan': pnp.arctan, 'arcsinh': pnp.arcsinh, 'cos': pnp.cos,
    'cosh': pnp.cosh, 'deg2rad': pnp.deg2rad, 'erf': pnp.erf, 'erfc': pnp.erfc, 'exp': pnp.exp,
    'exp2': pnp.exp2, 'expit': pnp.expit, 'expm1': pnp.expm1, 'fabs': pnp.fabs,
    'log_expit': pnp.log_expit, 'negative': pnp.negative, 'positive': pnp.positive,
    'rad2deg': pnp.rad2deg, 'sin': pnp.sin, 'sinh': pnp.sinh, 'square': pnp.square,
    'tan': pnp.tan, 'tanh': pnp.tanh, 'cbrt': pnp.cbrt, 'sinc': pnp.sinc, 'ceil': pnp.ceil,
    'floor': pnp.floor, 'fix': pnp.fix, 'rint': pnp.rint, 'trunc': pnp.trunc,
    'sign': pnp.sign, 'signbit': pnp.signbit, 'isfinite': pnp.isfinite, 'isinf': pnp.isinf,
    'isnan': pnp.isnan, 'round': lambda x: pnp.round(x, 1),
    'logical_not': lambda x: pnp.logical_not(x > 0),
    'stop_gradient': pyad.stop_gradient, 'astype': lambda x: pnp.astype(x, pnp.float32),
}
POSITIVE = {'log': pnp.log, 'log10': pnp.log10, 'log1p': pnp.log1p, 'log2': pnp.log2,
            'sqrt': pnp.sqrt, 'reciprocal': pnp.reciprocal, 'digamma': pnp.digamma,
            'gamma': pnp.gamma, 'gammaln': pnp.gammaln, 'arccosh': lambda x: pnp.arccosh(x + 1),
            'polygamma': lambda x: pnp.polygamma(1, x)}
UNIT = {'arccos': pnp.arccos, 'arcsin': pnp.arcsin, 'arctanh': pnp.arctanh,
        'erfinv': pnp.erfinv, 'logit': lambda x: pnp.logit((x + 1) / 2)}
BINARY = {
    'add': pnp.add, 'subtract': pnp.subtract, 'multiply': pnp.multiply, 'divide': pnp.divide,
    'arctan2': pnp.arctan2, 'hypot': pnp.hypot, 'copysign': pnp.copysign, 'fmax': pnp.fmax,
    'fmin': pnp.fmin, 'maximum': pnp.maximum, 'minimum': pnp.minimum, 'logaddexp': pnp.logaddexp,
    'logaddexp2': pnp.logaddexp2, 'equal': pnp.equal, 'not_equal': pnp.not_equal,
    'greater': pnp.greater, 'greater_equal': pnp.greater_equal, 'less': pnp.less,
    'less_equal': pnp.less_equal, 'heaviside': pnp.heaviside, 'isclose': pnp.isclose,
    'logical_and': lambda x, y: pnp.logical_and(x > 0, y > 0),
    'logical_or': lambda x, y: pnp.logical_or(x > 0, y > 0),
    'logical_xor': lambda x, y: pnp.logical_xor(x > 0, y > 0),
    'xlogy': lambda x, y: pnp.xlogy(x, y + 2), 'xlog1py': lambda x, y: pnp.xlog1py(x, y + 1),
    'power': lambda x, y: pnp.power(x + 2, y), 'fmod': lambda x, y: pnp.fmod(x, y + 2),
    'mod': lambda x, y: pnp.mod(x, y + 2), 'floor_divide': lambda x, y: pnp.floor_divide(x, y + 2),
    'scaled_multiply': lambda x, y: pyad.numpy.elementwise.scaled_multiply(x, y, scale=3.0),
}

CASES = []
for name, fn in UNARY.items():
    CASES.append((name, fn, [(2, 3)], None))
for name, fn in POSITIVE.items():
    CASES.append((name, fn, [_pos(2, 3)], None))
for name, fn in UNIT.items():
    CASES.append((name, fn, [_unit(4)], None))
for name, fn in BINARY.items():
    CASES.append((name, fn, [(2, 3), (2, 3)], None))
    CASES.append((name + '-broadcast', fn, [(3,), (2, 3)], (0, None)))
CASES += [
    ('add-scalar-batched', pnp.add, [(), (2, 3)], (0, None)),
    ('multiply-axis1', pnp.multiply, [(4,), (4,)], (1, 0)),
    ('where', lambda c, x, y: pnp.where(c > 0, x, y), [(3,), (3,), (2, 3)], None),
    ('where-shared-cond', lambda c, x, y: pnp.where(c > 0, x, y), [(3,), (3,), (3,)],
     (None, 0, 0)),
    ('clip', lambda x: pnp.clip(x, -0.5, 0.5), [(4,)], None),
    ('sinc_derivative', lambda x: pyad.grad(lambda y: pnp.sum(pnp.sinc(y)))(x), [(4,)], None),
    ('sum', lambda x: pnp.sum(x, axis=1), [(2, 3)], None),
    ('sum-all', pnp.sum, [(2, 3)], None),
    ('mean', lambda x: pnp.mean(x, axis=0, keepdims=True), [(2, 3)], None),
    ('prod', lambda x: pnp.prod(x, axis=-1), [(2, 3)], None),
    ('max', lambda x: pnp.max(x, axis=0), [(2, 3)], None),
    ('min', pnp.min, [(2, 3)], None),
    ('var', lambda x: pnp.var(x, axis=1, ddof=1), [(2, 3)], None),
    ('std', pnp.std, [(2, 3)], None),
    ('logsumexp-numpy', lambda x: pnp.logaddexp.reduce(x) if False else
     pyad.numpy.reductions.logsumexp(x, axis=1), [(2, 3)], None),
    ('logsumexp-weighted', lambda x, b: pyad.numpy.reductions.logsumexp(x, axis=1, b=b + 2),
     [(2, 3), (3,)], None),
    ('any', lambda x: pnp.any(x > 0.5, axis=1), [(2, 3)], None),
    ('all', lambda x: pnp.all(x > -0.5), [(2, 3)], None),
    ('argmax', lambda x: pnp.argmax(x, axis=1), [(2, 3)], None),
    ('argmax-flat', pnp.argmax, [(2, 3)], None),
    ('argmin', lambda x: pnp.argmin(x, axis=0), [(2, 3)], None),
    ('cumsum', lambda x: pnp.cumsum(x, axis=1), [(2, 3)], None),
    ('cumsum-flat', pnp.cumsum, [(2, 3)], None),
    ('reverse_cumsum', lambda x: pyad.grad(lambda y: pnp.sum(pnp.cumsum(y) * y))(x),
     [(4,)], None),
    ('cumprod', lambda x: pnp.cumprod(x, axis=0), [(2, 3)], None),
    ('reshape', lambda x: pnp.reshape(x, (3, 2)), [(2, 3)], None),
    ('broadcast_to', lambda x: pnp.broadcast_to(x, (2, 3)), [(3,)], None),
    ('transpose', lambda x: pnp.transpose(x), [(2, 3, 4)], None),
    ('transpose-axes', lambda x: pnp.transpose(x, (1, 2, 0)), [(2, 3, 4)], None),
    ('concatenate', lambda x, y: pnp.concatenate([x, y], axis=1), [(2, 3), (2, 2)],
     (0, None)),
    ('split', lambda x: pnp.split(x, [1], axis=1)[1], [(2, 3)], None),
    ('pad', lambda x: pnp.pad(x, ((1, 0), (0, 2)), constant_values=0.5), [(2, 3)], None),
    ('getitem', lambda x: x[1:, ::2] * 2, [(3, 4)], None),
    ('getitem-array', lambda x: x[onp.array([0, 2, 2])], [(3, 4)], None),
    ('getitem-element', lambda x: x[1] * 1.0, [(3,)], None),
    ('scatter_add', lambda x: pyad.grad(lambda y: pnp.sum(y[onp.array([0, 0, 1])] ** 2))(x),
     [(3,)], None),
    ('matmul-mm', pnp.matmul, [(2, 3), (3, 4)], None),
    ('matmul-mv', pnp.matmul, [(2, 3), (3,)], None),
    ('matmul-vm', pnp.matmul, [(3,), (3, 4)], None),
    ('matmul-vv', pnp.matmul, [(3,), (3,)], None),
    ('matmul-x-only', pnp.matmul, [(2, 3), (3, 4)], (0, None)),
    ('matmul-y-only', pnp.matmul, [(2, 3), (3, 4)], (None, 0)),
    ('matmul-vector-y-only', pnp.matmul, [(2, 3), (3,)], (None, 0)),
    ('matmul-vector-x-only', pnp.matmul, [(3,), (5, 3, 4)], (0, None)),
    ('matmul-stack', pnp.matmul, [(5, 2, 3), (3,)], (None, 0)),
    ('einsum', lambda x, y: pnp.einsum('ij,jk->ik', x, y), [(2, 3), (3, 4)], None),
    ('einsum-one', lambda x, y: pnp.einsum('ij,j', x, y), [(2, 3), (3,)], (None, 0)),
    ('softmax', lambda x: nn.softmax(x, axis=0), [(2, 3)], None),
    ('log_softmax', nn.log_softmax, [(2, 3)], None),
    ('logsumexp-nn', lambda x: nn.logsumexp(x, axis=-1), [(2, 3)], None),
    ('sparsemax', nn.sparsemax, [(2, 4)], None),
    ('entmax15', lambda x: nn.entmax15(x, axis=0), [(4, 2)], None),
    ('entmax_bisect', lambda x: nn.entmax_bisect(x, alpha=1.3), [(2, 4)], None),
    ('sparsek', lambda x: nn.sparsek(x, 2), [(2, 4)], None),
    ('topk_mask', lambda x: nn.topk_mask(x, 2) if hasattr(nn, 'topk_mask') else
     pyad.nn.sparse.topk_mask(x, 2), [(2, 4)], None),
    ('cholesky', la.cholesky, [_mat()], None),
    ('det', la.det, [_mat()], None),
    ('eigh', lambda a: la.eigh(a)[0], [_mat()], None),
    ('expm', lambda a: la.expm(a * 0.1), [(3, 3)], None),
    ('inv', la.inv, [_mat()], None),
    ('pinv', la.pinv, [(3, 2)], None),
    ('qr', lambda a: la.qr(a)[1], [(3, 2)], None),
    ('slogdet', lambda a: la.slogdet(a)[1], [_mat()], None),
    ('svd', lambda a: la.svd(a)[1], [(3, 2)], None),
    ('norm_extreme', lambda x: la.norm(x, ord=onp.inf, axis=1), [(2, 3)], None),
    ('solve', la.solve, [_mat(), (3,)], None),
    ('solve-matrix', la.solve, [_mat(), (3, 2)], None),
    ('solve-a-only', la.solve, [_mat(), (3,)], (0, None)),
    ('solve-b-only', la.solve, [_mat(), (3,)], (None, 0)),
    ('solve-stack', la.solve, [_mat(), (3, 2)], (None, 1)),
    ('solve_symmetric', la.solve_symmetric, [_mat(), (3,)], None),
    ('solve_triangular', lambda a, b: la.solve_triangular(a, b, lower=True), [_mat(), (3,)],
     None),
    ('allclose', lambda x, y: pnp.allclose(x, y), [(3,), (3,)], None),
    ('array_equal', lambda x: pnp.array_equal(x, x), [(3,)], None),
    ('index-batched-label', lambda z, i: pnp.sin(z)[i], [(4,), _ints()], None),
    ('index-batched-array', lambda z, i: pnp.sin(z)[i], [(4, 2), _ints(3)], None),
    ('index-batched-two', lambda z, i, j: (z * 2.0)[i, j], [(3, 4), _ints(2), _ints(2)], None),
    ('index-batched-shared-x', lambda z, i: pnp.take(z, i, axis=0), [(3, 4), _ints()], (None, 0)),
    ('take-batched', lambda z, i: pnp.take(z * 1.0, i, axis=1), [(2, 4), _ints(3)], None),
    ('take_along_axis-batched', lambda z, i: pnp.take_along_axis(z * 1.0, i, axis=1),
     [(2, 4), _ints(2, 3)], None),
    ('sort', lambda x: pnp.sort(x, axis=0), [(4, 2)], None),
    ('median', lambda x: pnp.median(x), [(5,)], None),
    ('nanmean', lambda x: pnp.nanmean(pnp.where(x > 0.5, onp.nan, x), axis=0), [(4, 2)], None),
    ('interp', lambda x, fp: pnp.interp(x, onp.linspace(-1, 1, 5), fp), [(3,), (5,)], None),
    ('fft', lambda x: pnp.fft.fft(x), [(2, 4)], None),
    ('ifft2', lambda x: pnp.fft.ifft2(x * (1 + 0.5j)), [(3, 4)], None),
    ('rfft-axis0', lambda x: pnp.fft.rfft(x, axis=0), [(4, 3)], None),
    ('irfft', lambda x: pnp.fft.irfft(pnp.fft.rfft(x)), [(2, 6)], None),
    ('complex-parts', lambda x, y: pnp.real(pnp.conj(x + 1j * y) * (x - 2j)) + pnp.imag(x * 1j)
     + pnp.angle(x + 1j * y), [(2, 3), (2, 3)], None),
    ('eigvals', lambda a: la.eigvals(a), [_mat()], None),
    ('sqrtm', lambda a: la.sqrtm(a @ pnp.transpose(a) + 3 * onp.eye(3)), [_mat()], None),
    ('solve_sylvester', lambda a, b, q: la.solve_sylvester(a + 4 * onp.eye(3), b + 4 * onp.eye(2),
                                                            q), [(3, 3), (2, 2), (3, 2)], None),
    ('solve_banded', lambda ab, b: la.solve_banded((1, 1), ab + onp.array([[0.0] * 4, [4.0] * 4,
                                                                          [0.0] * 4]), b),
     [(3, 4), (4,)], None),
    ('convolve', lambda x, y: pyad.scipy.signal.convolve(x, y), [(5,), (3,)], None),
    ('special-2', lambda x, y: sps.beta(x + 1, y + 1) + sps.betaln(x + 1, y + 1)
     + sps.gammainc(x + 1, y + 1) + sps.gammaincc(x + 1, y + 1) + sps.iv(1.5, x)
     + sps.ive(1.5, y) + sps.jn(2, x) + sps.yn(2, y + 1), [_pos(2, 3), _pos(2, 3)], None),
    ('special-1', lambda x: sps.gammasgn(x) + sps.rgamma(x) + sps.i0(x) + sps.i1(x) + sps.j0(x)
     + sps.j1(x) + sps.y0(x) + sps.y1(x) + sps.ndtr(x) + sps.log_ndtr(x), [_pos(2, 3)], None),
    ('special-complex', lambda x: sps.loggamma(x + 1) + sps.erfcx(x) + sps.erfi(x) + sps.dawsn(x)
     + sps.exp1(x + 1) + sps.expi(x + 1) + sps.wofz(x), [_pos(2, 3)], None),
    ('iv-order', lambda v, x: pyad.grad(lambda v: pnp.sum(sps.iv(v, x + 1) + sps.ive(v, x + 1)))(v),
     [(4,), _pos(4)], None),
    ('kv', lambda v, x: sps.kv(v, x) + sps.kve(v, x)
     + pyad.grad(lambda v: pnp.sum(sps.kv(v, x) + sps.kve(v, x)))(v), [(4,), _pos(4)], None),
    ('special-unit', lambda x, a: sps.betainc(a + 1, a + 2, (x + 1) / 2) + sps.erfcinv(x + 1),
     [_unit(4), _pos(4)], None),
    ('t.cdf', lambda x, d: pyad.scipy.stats.t.cdf(x, 3.0 + d), [(4,), _pos(4)], None),
    ('multivariate_normal.cdf', lambda x, m: pyad.scipy.stats.multivariate_normal.cdf(
        x, m, onp.array([[1.0, 0.5, 0.2], [0.5, 2.0, 0.3], [0.2, 0.3, 1.5]])),
     [(2, 3), (3,)], (1, 0)),
    ('multivariate_normal.cdf-box', lambda x, lo: pyad.scipy.stats.multivariate_normal.cdf(
        x, None, onp.array([[1.0, 0.5], [0.5, 2.0]]), lower_limit=lo - 1.0),
     [(2, 2), (2,)], (0, None)),
    ('multivariate_normal.cdf-cov', lambda x, c: pyad.scipy.stats.multivariate_normal.logcdf(
        x, None, c), [(3,), _mat(3)], None),
    ('sparsek_attention', lambda q, k, v, s: nn.sparsek_attention(q, k, v, s, 2.0, window=1,
                                                                  chunk=2),
     [(1, 1, 6, 2), (1, 1, 6, 2), (1, 1, 6, 2), (1, 1, 6)], None),
]


def _loop(fn, examples):
    return [fn(*ex) for ex in examples]


def _close(got, want, what):
    want = onp.stack([onp.asarray(w) for w in want])
    got = onp.asarray(got)
    assert got.shape == want.shape, f'{what}: shape {got.shape}, loop gives {want.shape}'
    kind = complex if onp.iscomplexobj(got) or onp.iscomplexobj(want) else float
    onp.testing.assert_allclose(got.astype(kind), want.astype(kind), rtol=1e-9, atol=1e-12,
                                err_msg=what)


def _run_case(fn, specs, axes, seed=0):
    axes = (0,) * len(specs) if axes is None else axes
    examples, batched = _stack_examples(specs, axes, _rng(seed))
    return examples, batched, axes


@pytest.mark.parametrize('name, fn, specs, axes', CASES, ids=[c[0] for c in CASES])
def test_vmap_equals_loop(name, fn, specs, axes):
    examples, batched, axes = _run_case(fn, specs, axes)
    got = pyad.vmap(fn, in_axes=axes)(*batched)
    _close(got, _loop(fn, examples), name)


def _covered():
    """The primitives the cases reach through a batching rule (or the loop)."""
    seen = set()
    original = batching.process

    def spy(prim, args, params, tag):
        seen.add(prim)
        return original(prim, args, params, tag)

    batching.process = spy
    try:
        for name, fn, specs, axes in CASES:
            _, batched, axes = _run_case(fn, specs, axes)
            pyad.vmap(fn, in_axes=axes)(*batched)
    finally:
        batching.process = original
    return seen


def _builtin_primitives():
    try:
        import pyad.scipy  # noqa: F401   (where it exists: its primitives too)
    except ImportError:
        pass
    from pyad._core.reverse import _no_impl

    def ours(p):        # not a primitive made by a test, an example or a benchmark,
        # nor the one-off primitive of a custom tape record (Tape.custom: fixed_point
        # makes one per call, alive while the tape that holds it is)
        top = (getattr(p.impl, '__module__', None) or '').split('.')[0]
        return not (top.startswith('test') or top in ('__main__', 'examples', 'bench')
                    or p.impl is _no_impl)
    return [p for p in all_primitives() if ours(p)]


def test_every_primitive_has_a_rule_or_is_listed_and_is_checked(values):
    if values != 'eager':
        pytest.skip('once is enough')
    prims = _builtin_primitives()
    assert len(prims) > 100
    fallback = set(vmap_rules.FALLBACK) | {p for p in prims if p.name in vmap_rules.FALLBACK_NAMES}
    missing = sorted(p.name for p in prims if batching.rule_of(p) is None and p not in fallback)
    assert not missing, f'primitives with no batching rule and not in FALLBACK: {missing}'
    assert not [p for p in fallback if batching.rule_of(p) is not None]
    covered = _covered()
    # SparseK attention's own primitives: its public function runs one example at a
    # time under vmap (the 'sparsek_attention' case), so they never see a batch
    attention = pyad.nn.attention
    covered |= {attention._attend, attention._gather, attention._scatter}
    # vmap's own, which carry such functions' values into and out of the batch (and
    # make batch boxes themselves): test_functions_computed_one_example_at_a_time
    covered |= set(vmap_rules.EXAMPLE_PRIMITIVES)
    unchecked = sorted(p.name for p in prims if p not in covered)
    assert not unchecked, f'primitives no vmap case reaches: {unchecked}'


# ------------------------------------------------------ derivatives, both orders
def _m(x):
    return pnp.reshape(x, (3, 3))


def _spd_of(x):
    return _m(x) @ pnp.transpose(_m(x)) + 3 * onp.eye(3)


_W = onp.arange(9.).reshape(3, 3)
GRAD_CASES = [
    ('sin*x', lambda x: pnp.sum(pnp.sin(x) * x)),
    ('mlp', lambda x: pnp.sum(pnp.tanh(pnp.reshape(x, (3, 3)) @ _W) ** 2)),
    ('softmax', lambda x: pnp.sum(nn.softmax(x) * onp.arange(9.))),
    ('max', lambda x: pnp.max(x) + pnp.sum(pnp.maximum(x, 0.1))),
    ('max-ties', lambda x: pnp.max(pnp.round(x))),
    ('prod', pnp.prod),
    ('prod-zeros', lambda x: pnp.prod(x * (pnp.abs(x) > 0.3))),
    ('cumprod', lambda x: pnp.sum(pnp.cumprod(x))),
    ('cumprod-zeros', lambda x: pnp.sum(pnp.cumprod(x * (pnp.abs(x) > 0.3)))),
    ('cumsum', lambda x: pnp.sum(pnp.cumsum(_m(x), axis=1) ** 2)),
    ('getitem', lambda x: pnp.sum(x[onp.array([0, 0, 2])] ** 3)),
    ('take', lambda x: pnp.sum(pnp.take(x, onp.array([1, 1, 4])) ** 2)),
    ('sort', lambda x: pnp.sum(pnp.sort(x) * onp.arange(9.))),
    ('median', pnp.median),
    ('quantile', lambda x: pnp.quantile(x, 0.3)),
    ('where', lambda x: pnp.sum(pnp.where(x > 0, pnp.log1p(pnp.abs(x)), x ** 2))),
    ('clip', lambda x: pnp.sum(pnp.clip(x, -0.5, 0.5) ** 2)),
    ('einsum', lambda x: pnp.einsum('ij,jk,ki->', _m(x), _m(x), _m(x))),
    ('concatenate', lambda x: pnp.sum(pnp.concatenate([x, x ** 2]) ** 2)),
    ('pad', lambda x: pnp.sum(pnp.pad(x, (1, 2), constant_values=2.0) ** 3)),
    ('split', lambda x: pnp.sum(pnp.split(x, 3)[1] ** 3)),
    ('broadcast_to', lambda x: pnp.sum(pnp.broadcast_to(x, (2, 9)) *
                                       onp.arange(18.).reshape(2, 9))),
    ('transpose', lambda x: pnp.sum(pnp.transpose(_m(x)) * _W)),
    ('var-std', lambda x: pnp.var(_m(x), axis=0)[1] + pnp.std(x)),
    ('nanmean', lambda x: pnp.nanmean(pnp.where(x > 0.5, onp.nan, x))),
    ('average', lambda x: pnp.average(x, weights=onp.arange(1., 10.))),
    ('logsumexp', lambda x: nn.logsumexp(x) + pyad.numpy.reductions.logsumexp(
        x, b=onp.arange(1., 10.))),
    ('sparsemax', lambda x: pnp.sum(nn.sparsemax(x) * onp.arange(9.))),
    ('entmax15', lambda x: pnp.sum(nn.entmax15(x) * onp.arange(9.))),
    ('entmax_bisect', lambda x: pnp.sum(nn.entmax_bisect(x, alpha=1.4) * onp.arange(9.))),
    ('sparsek', lambda x: pnp.sum(nn.sparsek(x, 3) * onp.arange(9.))),
    ('sparsemax_loss', lambda x: nn.sparsemax_loss(x, 3)),
    ('inv', lambda x: pnp.sum(la.inv(_spd_of(x)) * _W)),
    ('cholesky', lambda x: pnp.sum(la.cholesky(_spd_of(x)) ** 2 * _W)),
    ('eigh', lambda x: pnp.sum(la.eigh(_spd_of(x))[0] * onp.arange(3.))
     + pnp.sum(la.eigh(_spd_of(x))[1][:, 0] ** 2)),
    ('svd', lambda x: pnp.sum(la.svd(_m(x))[1] * onp.arange(3.))),
    ('qr', lambda x: pnp.sum(la.qr(_spd_of(x))[1] * _W)),
    ('pinv', lambda x: pnp.sum(la.pinv(_spd_of(x)))),
    ('expm', lambda x: pnp.sum(la.expm(0.1 * _m(x)))),
    ('det', lambda x: la.det(_m(x))),
    ('slogdet', lambda x: la.slogdet(_spd_of(x))[1]),
    ('matrix_power', lambda x: pnp.sum(la.matrix_power(_m(x), 3))),
    ('norms', lambda x: la.norm(_m(x), ord=2) + la.norm(_m(x), ord='nuc')
     + la.norm(_m(x), ord=1) + la.norm(x, ord=onp.inf)),
    ('solve', lambda x: pnp.sum(la.solve(_spd_of(x), onp.ones(3)) ** 2)),
    ('solve_triangular', lambda x: pnp.sum(la.solve_triangular(_spd_of(x), x[:3], lower=True))),
    ('solve_symmetric', lambda x: pnp.sum(la.solve_symmetric(_spd_of(x), x[:3]))),
]


@pytest.mark.parametrize('name, f', GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_vmap_of_grad_and_grad_of_vmap(name, f):
    xs = _rng(1).standard_normal((B, 9))
    want = _loop(pyad.grad(f), [[x] for x in xs])
    _close(pyad.vmap(pyad.grad(f))(xs), want, name + ': vmap(grad)')
    total = lambda xs: pnp.sum(pyad.vmap(f)(xs))
    _close(pyad.grad(total)(xs), want, name + ': grad(vmap)')
    _close(pyad.jacfwd(total)(xs), want, name + ': jacfwd(vmap)')
    hessians = _loop(pyad.hessian(f), [[x] for x in xs])
    got = pyad.vmap(pyad.hessian(f))(xs)
    onp.testing.assert_allclose(got, onp.stack(hessians), rtol=1e-8, atol=1e-10,
                                err_msg=name + ': vmap(hessian)')


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64])
def test_dtype_is_kept(dtype):
    xs = _rng().standard_normal((B, 4)).astype(dtype)
    f = lambda x: pnp.sum(pnp.tanh(x) * x)
    assert pyad.vmap(f)(xs).dtype == dtype
    assert pyad.vmap(pyad.grad(f))(xs).dtype == dtype
    onp.testing.assert_allclose(pyad.vmap(pyad.grad(f))(xs),
                                onp.stack([pyad.grad(f)(x) for x in xs]),
                                rtol=1e-5 if dtype == onp.float32 else 1e-12)


def test_jacobians_and_hessians_of_vmap_and_inside_it():
    f = lambda x: pnp.sin(x) * pnp.sum(x ** 2)
    xs = _rng(2).standard_normal((B, 3))
    per_example = onp.stack([pyad.jacfwd(f)(x) for x in xs])
    onp.testing.assert_allclose(pyad.vmap(pyad.jacfwd(f))(xs), per_example, rtol=1e-12)
    onp.testing.assert_allclose(pyad.vmap(pyad.jacrev(f))(xs), per_example, rtol=1e-12)
    J = pyad.jacrev(pyad.vmap(f))(xs)             # (B, 3, B, 3): block diagonal
    for i in range(B):
        onp.testing.assert_allclose(J[i, :, i, :], per_example[i], rtol=1e-12)
        for j in range(B):
            if j != i:
                assert not onp.any(J[i, :, j, :])
    g = lambda x: pnp.sum(pnp.exp(x) * x[::-1])
    onp.testing.assert_allclose(pyad.vmap(pyad.hessian(g))(xs),
                                onp.stack([pyad.hessian(g)(x) for x in xs]), rtol=1e-12)


def test_vmap_of_jvp_and_vjp():
    f = lambda x: pnp.tanh(x) * x[0]
    xs, vs = _rng(3).standard_normal((2, B, 3))
    want = onp.stack([pyad.jvp(f, x, v)[1] for x, v in zip(xs, vs)])
    onp.testing.assert_allclose(pyad.vmap(lambda x, v: pyad.jvp(f, x, v)[1])(xs, vs), want,
                                rtol=1e-12)
    # one point, a batch of directions
    got = pyad.vmap(lambda v: pyad.jvp(f, xs[0], v)[1], in_axes=0)(vs)
    onp.testing.assert_allclose(got, onp.stack([pyad.jvp(f, xs[0], v)[1] for v in vs]),
                                rtol=1e-12)
    want = onp.stack([pyad.vjp(f, x)[1](v) for x, v in zip(xs, vs)])
    onp.testing.assert_allclose(pyad.vmap(lambda x, v: pyad.vjp(f, x)[1](v))(xs, vs), want,
                                rtol=1e-12)


def test_vmap_of_vmap():
    f = lambda x, y: pnp.sum(x * y) + pnp.max(x)
    xs = _rng(4).standard_normal((2, B, 4))
    y = _rng(5).standard_normal(4)
    got = pyad.vmap(pyad.vmap(f, in_axes=(0, None)), in_axes=(0, None))(xs, y)
    want = onp.array([[f(x, y) for x in row] for row in xs])
    onp.testing.assert_allclose(got, want, rtol=1e-12)
    # the inner vmap over the other axis, and outer grad through both
    got = pyad.vmap(pyad.vmap(f, in_axes=(1, None)), in_axes=(0, None))(xs.swapaxes(1, 2), y)
    onp.testing.assert_allclose(got, want, rtol=1e-12)
    g = pyad.grad(lambda y: pnp.sum(pyad.vmap(pyad.vmap(f, in_axes=(0, None)),
                                              in_axes=(0, None))(xs, y)))(y)
    onp.testing.assert_allclose(g, xs.sum(axis=(0, 1)), rtol=1e-12)


def test_no_perturbation_confusion_with_a_closed_over_traced_value():
    ys = _rng(6).standard_normal((B, 3))

    def outer(x):      # x: traced by grad; the vmapped function closes over it
        return pnp.sum(pyad.vmap(lambda y: pnp.sum(pnp.sin(x * y)) * x)(ys))

    x0 = 0.7
    want = sum(pyad.grad(lambda x: pnp.sum(pnp.sin(x * y)) * x)(x0) for y in ys)
    onp.testing.assert_allclose(pyad.grad(outer)(x0), want, rtol=1e-12)
    onp.testing.assert_allclose(pyad.diff(outer)(x0), want, rtol=1e-12)

    # an inner derivative, per example, of a function closing over the outer x
    def inner(x):
        return pnp.sum(pyad.vmap(lambda y: pyad.diff(lambda z: x * z * y[0])(2.0))(ys))

    onp.testing.assert_allclose(pyad.grad(inner)(1.5), ys[:, 0].sum(), rtol=1e-12)
    onp.testing.assert_allclose(pyad.diff(pyad.diff(lambda x: x * inner(x)))(1.5),
                                2 * ys[:, 0].sum(), rtol=1e-12)


def test_in_axes_pytrees_out_axes_and_axis_size():
    rng = _rng(7)
    params = {'w': rng.standard_normal((3, 2)), 'b': rng.standard_normal(2)}
    xs = rng.standard_normal((3, B))          # the batch on axis 1
    f = lambda p, x: (x @ p['w'] + p['b'], pnp.sum(p['w']))
    out, total = pyad.vmap(f, in_axes=({'w': None, 'b': None}, 1), out_axes=(1, None))(params, xs)
    assert out.shape == (2, B)
    onp.testing.assert_allclose(out, onp.stack([f(params, x)[0] for x in xs.T], axis=1))
    onp.testing.assert_allclose(total, params['w'].sum())
    # a batch of parameters (a dict of mapped leaves), a shared input
    ps = {'w': rng.standard_normal((B, 3, 2)), 'b': rng.standard_normal((B, 2))}
    got = pyad.vmap(lambda p, x: f(p, x)[0], in_axes=(0, None))(ps, xs[:, 0])
    want = [f({'w': ps['w'][i], 'b': ps['b'][i]}, xs[:, 0])[0] for i in range(B)]
    onp.testing.assert_allclose(got, onp.stack(want))
    # nothing mapped: axis_size; an output that does not depend on the example is broadcast
    got = pyad.vmap(lambda x: pnp.sin(x), in_axes=None, axis_size=4)(onp.ones(2))
    onp.testing.assert_allclose(got, onp.broadcast_to(onp.sin(1.0), (4, 2)))
    got = pyad.vmap(lambda x: 2.0, axis_size=2, in_axes=None)(1.0)
    onp.testing.assert_allclose(got, [2.0, 2.0])
    # keyword arguments are mapped over axis 0
    got = pyad.vmap(lambda x, scale: x * scale, in_axes=(0,))(xs.T, scale=onp.arange(B))
    onp.testing.assert_allclose(got, xs.T * onp.arange(B)[:, None])
    # a tuple output, out_axes=-1
    got = pyad.vmap(lambda x: (x, pnp.sum(x)), out_axes=-1)(xs.T)
    onp.testing.assert_allclose(got[0], xs)
    onp.testing.assert_allclose(got[1], xs.sum(axis=0))


def test_clear_errors():
    x3, x4 = onp.ones((3, 2)), onp.ones((4, 2))
    with pytest.raises(ValueError, match=r'different sizes: argument 0 of shape \(3, 2\) has '
                       r'size 3 at axis 0, argument 1 of shape \(4, 2\) has size 4'):
        pyad.vmap(lambda a, b: a + b)(x3, x4)
    with pytest.raises(ValueError, match='axis_size'):
        pyad.vmap(lambda a: a, in_axes=None)(x3)
    with pytest.raises(ValueError, match='in_axes has 1 entries but.*2 positional'):
        pyad.vmap(lambda a, b: a, in_axes=(0,))(x3, x3)
    with pytest.raises(ValueError, match='out of range for argument 0'):
        pyad.vmap(lambda a: a, in_axes=2)(x3)
    with pytest.raises(ValueError, match='no axis 0'):
        pyad.vmap(lambda a: a)(1.0)
    with pytest.raises(ValueError, match='does not match the structure'):
        pyad.vmap(lambda p: p['a'], in_axes=({'b': 0},))({'a': x3})
    with pytest.raises(ValueError, match='out_axes is None for output 0'):
        pyad.vmap(lambda a: a, out_axes=None)(x3)
    with pytest.raises(TypeError, match='in_axes entries must be ints or None'):
        pyad.vmap(lambda a: a, in_axes='0')
    with pytest.raises(TypeError, match='Python bool'):
        pyad.vmap(lambda a: a if a[0] > 0 else -a)(x3)
    with pytest.raises(TypeError, match='pyad.numpy.take'):
        pyad.vmap(lambda i: x3[i])(onp.array([0, 1]))
    with pytest.raises(ValueError, match=r"argument 0 \(leaf 1\) of shape \(4, 2\) has size 4"):
        pyad.vmap(lambda p: p[0])((x3, x4))
    with pytest.raises(ValueError, match='axis_size is 5'):
        pyad.vmap(lambda a: a, axis_size=5)(x3)


def test_shapes_seen_inside_are_one_examples():
    seen = []

    def f(x):
        seen.append((x.shape, x.ndim, len(x), pnp.zeros_like(x).shape))
        return x
    pyad.vmap(f)(onp.ones((5, 3, 2)))
    assert seen == [((3, 2), 2, 3, (3, 2))]


def test_functions_computed_one_example_at_a_time():
    heron = lambda a, x: 0.5 * (x + a / x)
    A = onp.array([2.0, 3.0, 4.0])
    root = lambda a: pyad.fixed_point(heron, a, 1.0)
    onp.testing.assert_allclose(pyad.vmap(root)(A), onp.sqrt(A), rtol=1e-10)
    total = lambda A: pnp.sum(pyad.vmap(root)(A))
    onp.testing.assert_allclose(pyad.grad(total)(A), 0.5 / onp.sqrt(A), rtol=1e-8)
    # differentiated inside the vmap, to second order, in both modes
    onp.testing.assert_allclose(pyad.vmap(pyad.grad(root))(A), 0.5 / onp.sqrt(A), rtol=1e-8)
    onp.testing.assert_allclose(pyad.vmap(pyad.diff(root))(A), 0.5 / onp.sqrt(A), rtol=1e-8)
    onp.testing.assert_allclose(pyad.vmap(pyad.diff2(root))(A), -0.25 * A ** -1.5, rtol=1e-7)
    g = lambda v: root(v[0]) * v[1] ** 2
    V = onp.stack([A, A + 1], axis=1)
    onp.testing.assert_allclose(pyad.vmap(pyad.hessian(g))(V),
                                onp.stack([pyad.hessian(g)(v) for v in V]), rtol=1e-7)
    onp.testing.assert_allclose(pyad.vmap(pyad.vmap(root))(onp.stack([A, 2 * A])),
                                onp.sqrt(onp.stack([A, 2 * A])), rtol=1e-10)
    with pytest.raises(NotImplementedError, match='closes over a value that differs'):
        pyad.vmap(lambda a: pyad.fixed_point(lambda _, x: heron(a, x), None, 1.0))(A)
    # sparsek attention and interp: inside and outside, against a loop
    rng = _rng(8)
    q, k, v = rng.standard_normal((3, B, 1, 1, 6, 2))
    s = rng.standard_normal((B, 1, 1, 6))
    att = lambda q, k, v, s: pnp.sum(nn.sparsek_attention(q, k, v, s, 2.0, window=1, chunk=2))
    want = onp.stack([pyad.grad(lambda qi: att(qi, k[i], v[i], s[i]))(q[i]) for i in range(B)])
    got = pyad.grad(lambda q: pnp.sum(pyad.vmap(att)(q, k, v, s)))(q)
    onp.testing.assert_allclose(got, want, rtol=1e-10)
    got = pyad.vmap(lambda q, k, v, s: pyad.grad(lambda qi: att(qi, k, v, s))(q))(q, k, v, s)
    onp.testing.assert_allclose(got, want, rtol=1e-10)
    knots = onp.linspace(0, 1, 5)
    f = lambda x, fp: pnp.sum(pnp.interp(x, knots, fp) ** 2)
    xs, fps = rng.uniform(0, 1, (B, 3)), rng.standard_normal((B, 5))
    for op in (pyad.grad, pyad.jacfwd, pyad.hessian):
        got = pyad.vmap(lambda x, fp: op(lambda y: f(y, fp))(x))(xs, fps)
        want = onp.stack([op(lambda y: f(y, fp))(x) for x, fp in zip(xs, fps)])
        onp.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        got = pyad.vmap(lambda x, fp: op(lambda p: f(x, p))(fp))(xs, fps)
        want = onp.stack([op(lambda p: f(x, p))(fp) for x, fp in zip(xs, fps)])
        onp.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_a_primitive_of_ones_own_loops_until_given_a_rule():
    from pyad.rules import Primitive, register_batching_rule
    calls = []

    def impl(x):
        calls.append(onp.shape(x))
        return onp.logaddexp(0.0, x)

    softplus = Primitive('softplus_for_vmap', impl)
    softplus.def_jvp(lambda t, ans, x: t * pnp.expit(x))
    softplus.def_vjp(lambda g, ans, x: g * pnp.expit(x))
    xs = _rng(9).standard_normal((B, 4))
    want = onp.logaddexp(0.0, xs)
    onp.testing.assert_allclose(pyad.vmap(softplus)(xs), want)
    assert calls == [(4,)] * B                        # one example at a time
    onp.testing.assert_allclose(pyad.vmap(pyad.grad(lambda x: pnp.sum(softplus(x))))(xs),
                                1 / (1 + onp.exp(-xs)))
    register_batching_rule(softplus, lambda prim, values, batched, params, size:
                           prim(values[0]))       # elementwise: the batch as it is
    calls.clear()
    onp.testing.assert_allclose(pyad.vmap(softplus)(xs), want)
    assert calls == [(B, 4)]


CHECKED = [
    ('elementwise', lambda x: pnp.sin(x) * pnp.exp(x[::-1]), (B, 3)),
    ('reductions', lambda x: nn.softmax(x) * pnp.max(x) + pnp.prod(x), (B, 4)),
    ('matmul', lambda x: pnp.reshape(x, (2, 2)) @ pnp.tanh(pnp.reshape(x, (2, 2))), (B, 4)),
    ('linalg', lambda x: la.solve(pnp.reshape(x, (2, 2)) + 3 * onp.eye(2), x[:2]), (B, 4)),
    ('labels', lambda x: pnp.sin(x)[onp.array([2, 0])] * x[0], (B, 3)),
]


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64])
@pytest.mark.parametrize('name, f, shape', CHECKED, ids=[c[0] for c in CHECKED])
def test_derivatives_of_vmap_to_second_order(name, f, shape, dtype, values):
    """check_grads on vmap(f): forward and reverse, batched, the four second-order
    nestings, finite differences and the reference mode, around a vmap."""
    if values != 'eager':
        pytest.skip('check_grads runs the deferred mode itself')
    x = _rng(10).uniform(0.2, 0.9, shape).astype(dtype)
    pyad.testing.check_grads(pyad.vmap(f), x, order=2)


def test_per_example_gradients_with_labels_by_indexing():
    rng = _rng(11)
    W = rng.standard_normal((4, 3))
    X, labels = rng.standard_normal((5, 4)), onp.array([0, 2, 1, 2, -1])
    loss = lambda W, x, t: -nn.log_softmax(pnp.tanh(x @ W))[t]
    got = pyad.vmap(pyad.grad(loss), in_axes=(None, 0, 0))(W, X, labels)
    want = onp.stack([pyad.grad(loss)(W, x, t) for x, t in zip(X, labels)])
    onp.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    H = pyad.vmap(pyad.hessian(loss), in_axes=(None, 0, 0))(W, X, labels)
    onp.testing.assert_allclose(H[1], pyad.hessian(loss)(W, X[1], labels[1]), rtol=1e-10)
    with pytest.raises(IndexError, match='out of bounds'):
        pyad.vmap(loss, in_axes=(None, 0, 0))(W, X, labels + 2)


# every operator of pyad.operators inside vmap and around it: (how to call it, f)
_scalar = lambda x: pnp.sin(x) * pnp.exp(x)                 # R -> R
_field = lambda v: pnp.sum(pnp.sin(v) * v[::-1] ** 2)       # R^3 -> R
_map = lambda v: pnp.sin(v) * pnp.sum(v ** 2)               # R^3 -> R^3
_U = onp.array([0.3, -0.2, 0.5])
OPERATORS = {
    'diff': ('scalar', lambda op: op(_scalar)), 'diff2': ('scalar', lambda op: op(_scalar)),
    'diffn': ('scalar', lambda op: op(3, _scalar)),
    'grad': ('field', lambda op: op(_field)), 'hessian': ('field', lambda op: op(_field)),
    'gradhessian': ('field', lambda op: op(_field)),
    'laplacian': ('field', lambda op: op(_field)),
    'value_and_grad': ('field', lambda op: op(_field)),
    'gradv': ('field', lambda op: lambda x: op(_field)(x, _U)),
    'hessianv': ('field', lambda op: lambda x: op(_field)(x, _U)),
    'gradhessianv': ('field', lambda op: lambda x: op(_field)(x, _U)),
    'jacobian': ('map', lambda op: op(_map)), 'jacobianT': ('map', lambda op: op(_map)),
    'jacfwd': ('map', lambda op: op(_map)), 'jacrev': ('map', lambda op: op(_map)),
    'curl': ('map', lambda op: op(_map)), 'div': ('map', lambda op: op(_map)),
    'curldiv': ('map', lambda op: op(_map)),
    'jacobianv': ('map', lambda op: lambda x: op(_map)(x, _U)),
    'jacobianTv': ('map', lambda op: lambda x: op(_map)(x, _U)),
    'jvp': ('map', lambda op: lambda x: op(_map, x, _U)),
    'vjp': ('map', lambda op: lambda x: op(_map, x)[1](_U)),
    'linearize': ('map', lambda op: lambda x: op(_map, x)[1](_U)),
}
_NAMES = sorted(OPERATORS) + sorted('f' + n for n in OPERATORS if 'f' + n in pyad.__all__)


def test_every_operator_is_listed():
    assert set(pyad.operators.__all__) <= set(_NAMES)


# the function of one example, and (through vmap over copies of x) of the batch:
# an operator of the batched function equals B times the operator of one example
_TOTALS = {
    'scalar': lambda x: pnp.sum(pyad.vmap(_scalar)(x * onp.ones(B))) / B,
    'field': lambda v: pnp.sum(pyad.vmap(_field)(v * onp.ones((B, 1)))) / B,
    'map': lambda v: pnp.sum(pyad.vmap(_map)(v * onp.ones((B, 1))), axis=0) / B,
}
_ONE = {'scalar': _scalar, 'field': _field, 'map': _map}


def _with_function(make, op, f):
    """make(op) calls op with the case's function; the same call with f instead."""
    def swapped(*args, **kwargs):
        args = list(args)
        i = next(i for i, a in enumerate(args) if callable(a))
        args[i] = f
        return op(*args, **kwargs)
    return make(swapped)


@pytest.mark.parametrize('name', _NAMES)
def test_every_operator_inside_vmap_and_around_it(name, values):
    if values != 'eager':
        pytest.skip('once is enough')
    base = name if name in OPERATORS else name[1:]
    kind, make = OPERATORS[base]
    op = getattr(pyad, name)
    g = make(op)
    xs = _rng(12).uniform(0.2, 0.9, (B,) if kind == 'scalar' else (B, 3))
    want = [g(x) for x in xs]
    for got, *each in zip(pyad.tree_leaves(pyad.vmap(g)(xs)), *map(pyad.tree_leaves, want)):
        _close(got, each, f'vmap({name})')
    outer = _with_function(make, op, _TOTALS[kind])
    inner = _with_function(make, op, _ONE[kind])
    for got, want in zip(pyad.tree_leaves(outer(xs[0])), pyad.tree_leaves(inner(xs[0]))):
        onp.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12,
                                    err_msg=f'{name}(vmap)')

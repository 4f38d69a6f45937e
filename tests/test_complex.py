"""Complex numbers: JAX's conventions, checked against finite differences on the
real and imaginary parts; every primitive either has right complex rules or
refuses complex operands."""
import gc

import numpy as onp
import pytest

import pyad
import pyad.numpy as np
import pyad.linalg
import pyad.nn          # noqa: F401  (its primitives are enumerated below)
import pyad.scipy.special as sp
from pyad.testing import check_grads
from pyad._core.primitive import Primitive, bind

RNG = onp.random.default_rng(7)
Z = RNG.normal(size=4) + 1j * RNG.normal(size=4)
M = RNG.normal(size=(3, 3)) + 1j * RNG.normal(size=(3, 3))
X = RNG.normal(size=4)


def wirtinger_gradient(f, z, h=1e-6):
    """∂f/∂x - i ∂f/∂y of a real f of complex z, by central differences: the number
    JAX's grad returns for a real function of complex inputs."""
    z = onp.asarray(z, dtype=complex)
    out = onp.zeros(z.shape, dtype=complex)
    for i in range(z.size):
        e = onp.zeros(z.shape, dtype=complex)
        e.flat[i] = h
        dx = (f(z + e) - f(z - e)) / (2 * h)
        dy = (f(z + 1j * e) - f(z - 1j * e)) / (2 * h)
        out.flat[i] = dx - 1j * dy
    return out


# ----------------------------------------------------------------- JAX's convention
def test_grad_of_squared_modulus_is_twice_the_conjugate():
    # the example of JAX's documentation: f(z) = |z|^2 at 3 + 4j gives 6 - 8j
    f = lambda z: np.real(z) ** 2 + np.imag(z) ** 2
    assert pyad.grad(f)(3.0 + 4.0j) == pytest.approx(6.0 - 8.0j)
    assert pyad.grad(lambda z: np.abs(z) ** 2)(3.0 + 4.0j) == pytest.approx(6.0 - 8.0j)


REAL_OF_COMPLEX = {
    'abs': lambda z: np.sum(np.abs(z)),
    'abs of sin': lambda z: np.sum(np.abs(np.sin(z)) ** 2),
    'real of product': lambda z: np.real(np.sum(z * z * np.conj(z[::-1]))),
    'imag of exp': lambda z: np.sum(np.imag(np.exp(z))),
    'angle': lambda z: np.sum(np.angle(z) * np.real(z)),
    'log-modulus': lambda z: np.sum(np.real(np.log(z))),
    'quadratic form': lambda z: np.real(np.conj(z[:3]) @ (M @ z[:3])),
    'norm': lambda z: np.sqrt(np.sum(np.real(z * np.conj(z)))),
}


@pytest.mark.parametrize('name', list(REAL_OF_COMPLEX))
def test_grad_of_real_function_of_complex_input_matches_jax_convention(name):
    f = REAL_OF_COMPLEX[name]
    want = wirtinger_gradient(lambda z: float(f(z)), Z)
    onp.testing.assert_allclose(pyad.grad(f)(Z), want, rtol=1e-6, atol=1e-8)
    # reverse mode over a vector output (rows of jacrev) agrees with grad
    onp.testing.assert_allclose(pyad.jacrev(lambda z: np.stack([f(z), 2 * f(z)]))(Z)[1],
                                2 * want, rtol=1e-6, atol=1e-8)


def test_grad_keeps_complex64():
    z = Z.astype(onp.complex64)
    g = pyad.grad(lambda z: np.sum(np.abs(z) ** 2))(z)
    assert g.dtype == onp.complex64
    onp.testing.assert_allclose(g, 2 * onp.conj(z), rtol=1e-6)


HOLOMORPHIC = {
    'sin': (np.sin, onp.cos),
    'exp': (np.exp, onp.exp),
    'log': (np.log, lambda z: 1 / z),
    'square': (lambda z: z * z, lambda z: 2 * z),
    'power': (lambda z: z ** 3, lambda z: 3 * z ** 2),
    'reciprocal': (lambda z: 1.0 / z, lambda z: -1 / z ** 2),
    'tanh': (np.tanh, lambda z: 1 - onp.tanh(z) ** 2),
    'sqrt': (np.sqrt, lambda z: 0.5 / onp.sqrt(z)),
}


@pytest.mark.parametrize('name', list(HOLOMORPHIC))
def test_holomorphic_derivatives(name):
    f, df = HOLOMORPHIC[name]
    z = 0.7 + 0.4j
    assert pyad.grad(f, holomorphic=True)(z) == pytest.approx(df(z))
    onp.testing.assert_allclose(pyad.jacfwd(f, holomorphic=True)(Z), onp.diag(df(Z)), rtol=1e-12)
    onp.testing.assert_allclose(pyad.jacrev(f, holomorphic=True)(Z), onp.diag(df(Z)), rtol=1e-12)
    # f'(z) by a finite difference along the real axis (holomorphic: any direction)
    h = 1e-7
    fd = (f(z + h) - f(z - h)) / (2 * h)
    assert pyad.grad(f, holomorphic=True)(z) == pytest.approx(fd, rel=1e-6)


def test_holomorphic_matrix_function():
    f = lambda z: M @ (z[:3] * z[:3])
    J = pyad.jacrev(f, holomorphic=True)(Z)
    onp.testing.assert_allclose(J[:, :3], M * 2 * Z[:3], rtol=1e-12)
    onp.testing.assert_allclose(pyad.jacfwd(f, holomorphic=True)(Z), J, rtol=1e-12)


def test_errors_follow_jax():
    with pytest.raises(TypeError, match='grad requires real-valued outputs.*holomorphic=True'):
        pyad.grad(np.sin)(1.0 + 1.0j)
    with pytest.raises(TypeError, match='jacfwd requires real-valued inputs.*holomorphic=True'):
        pyad.jacfwd(np.sin)(Z)
    with pytest.raises(TypeError, match='jacrev requires real-valued outputs'):
        pyad.jacrev(np.sin)(Z)
    with pytest.raises(TypeError, match='holomorphic=True requires complex inputs'):
        pyad.grad(np.sin, holomorphic=True)(1.0)
    with pytest.raises(TypeError, match='holomorphic=True requires complex outputs'):
        pyad.grad(lambda z: np.abs(z), holomorphic=True)(1.0 + 1j)
    with pytest.raises(TypeError, match='hessian has no holomorphic option'):
        pyad.hessian(np.sin, holomorphic=True)
    with pytest.raises(TypeError, match='hessian requires real-valued inputs'):
        pyad.hessian(lambda z: np.abs(z))(Z)


def test_real_input_complex_output_jacfwd_and_jvp():
    f = lambda x: np.exp(1j * x) * x
    J = pyad.jacfwd(f)(X)
    onp.testing.assert_allclose(J, onp.diag(onp.exp(1j * X) * (1 + 1j * X)), rtol=1e-12)
    _, t = pyad.jvp(f, X, onp.ones(4))
    onp.testing.assert_allclose(t, onp.exp(1j * X) * (1 + 1j * X), rtol=1e-12)


def test_complex_intermediate_real_output_second_order():
    # once a silent zero, then an error: now the Hessian through complex values
    f = lambda x: np.sum(np.abs(np.exp(1j * x[::-1]) * x + x[0]) ** 3)
    H = pyad.hessian(f)(X)
    h = 1e-4
    fd = onp.array([(pyad.grad(f)(X + h * e) - pyad.grad(f)(X - h * e)) / (2 * h)
                    for e in onp.eye(4)])
    onp.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-6)
    check_grads(f, X, order=2)


# ----------------------------------------------------------------- every primitive
# one or more functions of complex values (some mixing in real ones) exercising each
# primitive whose rules are declared right for complex values
def _c(n=4):
    return Z[:n]


CASES = {
    'add': [(lambda z: z + z[::-1], _c), (lambda z: z + X, _c), (lambda x: x + 1j, lambda: X)],
    'subtract': [(lambda z: z - 2 * z[::-1], _c), (lambda x: (1 + 2j) - x, lambda: X)],
    'multiply': [(lambda z: z * z[::-1], _c), (lambda x: x * Z, lambda: X)],
    'scaled_multiply': [(lambda z: z ** 2, _c)],
    'divide': [(lambda z: z / (z[::-1] + 3), _c), (lambda x: Z / (x + 3), lambda: X)],
    'power': [(lambda z: z ** 3, _c), (lambda z: (z + 2) ** (0.5 + 0.5j), _c)],
    'negative': [(lambda z: -z, _c)],
    'positive': [(lambda z: +z * 1, _c)],
    'exp': [(np.exp, _c)], 'exp2': [(np.exp2, _c)], 'expm1': [(np.expm1, _c)],
    'log': [(np.log, _c)], 'log2': [(np.log2, _c)], 'log10': [(np.log10, _c)],
    'log1p': [(np.log1p, _c)], 'sqrt': [(np.sqrt, _c)], 'square': [(np.square, _c)],
    'reciprocal': [(np.reciprocal, _c)], 'sin': [(np.sin, _c)], 'cos': [(np.cos, _c)],
    'tan': [(np.tan, lambda: 0.3 * Z)], 'arcsin': [(np.arcsin, lambda: 0.4 * Z)],
    'arccos': [(np.arccos, lambda: 0.4 * Z)], 'arctan': [(np.arctan, lambda: 0.4 * Z)],
    'sinh': [(np.sinh, _c)], 'cosh': [(np.cosh, _c)], 'tanh': [(np.tanh, lambda: 0.5 * Z)],
    'arcsinh': [(np.arcsinh, _c)], 'arccosh': [(np.arccosh, lambda: Z + 2)],
    'arctanh': [(np.arctanh, lambda: 0.4 * Z)],
    'absolute': [(np.abs, _c)],
    'where': [(lambda z: np.where(onp.array([True, False, True, False]), z, 2 * z[::-1]), _c),
              (lambda x: np.where(x > 0, x, 1j * x), lambda: X)],
    'real': [(np.real, _c), (lambda z: z.real * z, _c), (lambda x: np.real(x) * x, lambda: X)],
    'imag': [(np.imag, _c), (lambda z: z.imag * z, _c), (lambda x: np.imag(x) + x, lambda: X)],
    'conj': [(np.conj, _c), (lambda z: z.conj() * z, _c), (lambda x: np.conj(x) * x, lambda: X)],
    'angle': [(np.angle, _c), (lambda z: np.angle(z, deg=True), _c),
              (lambda x: np.angle(x) + x, lambda: X)],
    'reshape': [(lambda z: np.reshape(z, (2, 2)) * z[:2], _c)],
    'broadcast_to': [(lambda z: np.broadcast_to(z, (3, 4)) * M[:, :1], _c)],
    'transpose': [(lambda m: np.transpose(m) @ m, lambda: M)],
    'astype': [(lambda x: np.astype(x, onp.complex128) * Z, lambda: X),
               (lambda z: np.astype(z, onp.float64) * z, _c)],
    'concatenate': [(lambda z: np.concatenate([z, X, z * z]), _c)],
    'split': [(lambda z: np.split(z, 2)[1] * np.split(z, 2)[0], _c)],
    'pad': [(lambda z: np.pad(z, (1, 2)) * 2, _c)],
    'sum': [(lambda m: np.sum(m * m, axis=0), lambda: M)],
    'mean': [(lambda m: np.mean(m * m, axis=1), lambda: M)],
    'prod': [(lambda m: np.prod(m, axis=0), lambda: M)],
    'cumsum': [(lambda z: np.cumsum(z * z), _c)],
    'cumprod': [(np.cumprod, _c), (lambda z: np.cumprod(z * onp.array([1, 0, 1, 0])), _c),
                (lambda m: np.cumprod(m, axis=0), lambda: M)],
    'reverse_cumsum': [(lambda z: pyad.grad(lambda x: np.sum(np.cumsum(x) * X))(z.real) * z, _c),
                       (lambda z: pyad.vjp(np.cumsum, z)[1](z), _c)],
    'getitem': [(lambda z: z[1:3] * z[0], _c), (lambda m: m[[0, 2], 1], lambda: M)],
    'scatter_add': [(lambda z: pyad.vjp(lambda m: m[[0, 0, 2], 1], M)[1](z[:3]) * z[0], _c)],
    'matmul': [(lambda m: m @ m, lambda: M), (lambda x: M @ x[:3], lambda: X),
               (lambda z: z[:3] @ M.real, _c)],
    'inv': [(pyad.linalg.inv, lambda: M), (lambda m: pyad.linalg.matrix_power(m, -2), lambda: M)],
    'det': [(pyad.linalg.det, lambda: M), (lambda x: pyad.linalg.det(M * x[:3]), lambda: X),
            (pyad.linalg.det, lambda: onp.outer(Z[:3], Z[1:]))],         # (singular)
    'solve': [(lambda m: pyad.linalg.solve(m, Z[:3]), lambda: M),
              (lambda z: pyad.linalg.solve(M.real, z[:3]), _c),
              (lambda x: pyad.linalg.solve(M.real + onp.diag(x[:3]), Z[:3]), lambda: X)],
    'sinc': [(np.sinc, _c), (np.sinc, lambda: 1e-9 * Z), (lambda x: np.sinc(x * (1 + 1j)), lambda: X)],
    'sinc_derivative': [(lambda z: pyad.jvp(np.sinc, (z,), (onp.ones_like(z),))[1], _c),
                        (lambda z: pyad.jvp(np.sinc, (z,), (onp.ones_like(z),))[1], lambda: 1e-9 * Z)],
    'logsumexp': [(np.logsumexp, _c), (lambda m: np.logsumexp(m, axis=1), lambda: M),
                  (lambda z: np.logsumexp(Z, b=z), _c), (lambda x: np.logsumexp(x, b=Z), lambda: X),
                  (lambda z: np.logsumexp(z, b=X), _c),
                  (lambda m: pyad.nn.logsumexp(m, axis=1), lambda: M)],
    # pyad.nn's softmax family (holomorphic)
    'softmax': [(pyad.nn.softmax, _c), (lambda m: pyad.nn.softmax(m, axis=0), lambda: M)],
    'log_softmax': [(pyad.nn.log_softmax, _c),
                    (lambda m: pyad.nn.log_softmax(m, axis=0), lambda: M)],
    # scipy.special (holomorphic)
    'erf': [(np.erf, _c)], 'erfc': [(np.erfc, _c)], 'gamma': [(np.gamma, lambda: Z + 1)],
    'digamma': [(np.digamma, lambda: Z + 1)],
    'polygamma': [(lambda z: np.polygamma(1, z), lambda: Z + 1),
                  (lambda z: np.polygamma(3, z), lambda: Z - 2.5)],
    'xlogy': [(lambda z: np.xlogy(z, z[::-1] + 2), _c), (lambda x: np.xlogy(x, Z + 2), lambda: X)],
    'xlog1py': [(lambda z: np.xlog1py(z, z[::-1] + 1), _c)],
    'ndtr': [(sp.ndtr, _c)], 'log_ndtr': [(sp.log_ndtr, lambda: Z + 1)],
    'rgamma': [(sp.rgamma, _c), (sp.rgamma, lambda: Z - 2)],
    'loggamma': [(sp.loggamma, lambda: Z + 1)],
    'erfcx': [(sp.erfcx, _c)], 'erfi': [(sp.erfi, _c)], 'dawsn': [(sp.dawsn, _c)],
    'exp1': [(sp.exp1, lambda: Z + 1)], 'expi': [(sp.expi, lambda: Z + 1)],
    'wofz': [(sp.wofz, _c), (sp.wofz, lambda: X)],
    'jn': [(lambda z: sp.jn(2, z), _c)],
    'iv': [(lambda z: sp.iv(1.5, z), lambda: Z + 1), (lambda z: sp.iv(-2.0, z), _c)],
    'ive': [(lambda z: sp.ive(1.5, z), lambda: Z + 1), (lambda z: sp.ive(-2.0, z), _c),
            (lambda x: sp.ive(0.5, x * (1 + 1j)), lambda: X)],     # (not holomorphic)
    'kv': [(lambda z: sp.kv(1.5, z), lambda: Z + 2)], 'kve': [(lambda z: sp.kve(0.4, z), lambda: Z + 2)],
    'einsum': [(lambda m: np.einsum('ij,jk->ik', m, M), lambda: M),
               (lambda x: np.einsum('i,ij->j', x[:3], M), lambda: X)],
}


# pyad.linalg primitives whose complex cases are in tests/test_complex_linalg.py
LINALG_ELSEWHERE = ('slogdet', 'svd', 'qr', 'cholesky', 'eigh', 'pinv', 'expm', 'sqrtm',
                    'solve_triangular', 'solve_symmetric', 'solve_sylvester', 'solve_banded')


def _all_primitives():
    return [o for o in gc.get_objects() if isinstance(o, Primitive)]


def test_every_complex_primitive_has_cases():
    declared = {p.name for p in _all_primitives() if p.complex_rules and not p.nondiff}
    # (primitives of modules tested elsewhere: the fft, eig and complex linalg tests)
    elsewhere = {n for n in declared if n in ('fftn', 'rfftn', 'irfftn', 'eig') + LINALG_ELSEWHERE}
    assert declared - elsewhere <= set(CASES), sorted(declared - elsewhere - set(CASES))
    assert set(CASES) <= declared


@pytest.mark.parametrize('dtype', [onp.complex128, onp.complex64])
@pytest.mark.parametrize('name', sorted(CASES))
def test_complex_rules_against_finite_differences(name, dtype):
    low = dtype == onp.complex64
    for f, make in CASES[name]:
        x = make()
        x = x.astype(dtype if onp.iscomplexobj(x) else (onp.float32 if low else onp.float64))
        check_grads(f, x, order=2)


def test_primitives_without_complex_rules_refuse_complex_operands():
    refused = []
    for prim in _all_primitives():
        if prim.complex_rules or prim.nondiff:
            continue

        def f(z, prim=prim):
            return bind(prim, (z,), {})
        with pytest.raises(TypeError, match=f'{prim.name} does not support complex values'):
            pyad.grad(lambda z: np.real(f(z)))(Z)
        # a complex constant meeting a traced real value too
        with pytest.raises(TypeError, match=f'{prim.name} does not support complex values'):
            pyad.grad(lambda x: bind(prim, (x, Z), {}))(X)
        refused.append(prim.name)
    assert {'maximum', 'sparsemax', 'gammaln', 'iv_order_derivative', 'kv_order_derivative'} <= set(refused)


def test_check_grads_catches_a_wrong_complex_rule():
    # conj with the VJP of a holomorphic function (no conjugation): wrong
    wrong = Primitive('wrong_conj', onp.conj, complex_rules=True)
    wrong.def_jvp(lambda t, ans, x: np.conj(t))
    wrong.def_vjp(lambda g, ans, x: g)
    with pytest.raises(AssertionError):
        check_grads(lambda z: wrong(z) * z, Z, order=1)


# ----------------------------------------------------------------- values
def test_sinc_and_logsumexp_of_complex_values_against_numpy():
    onp.testing.assert_allclose(np.sinc(Z), onp.sinc(Z), rtol=1e-12)
    onp.testing.assert_allclose(np.logsumexp(M, axis=0), onp.log(onp.sum(onp.exp(M), axis=0)),
                                rtol=1e-12)
    onp.testing.assert_allclose(pyad.grad(np.sinc, holomorphic=True)(0.0 + 0.0j), 0.0, atol=0)
    want = (onp.cos(onp.pi * Z) - onp.sinc(Z)) / Z          # sinc'(z), away from 0
    onp.testing.assert_allclose(pyad.vmap(pyad.grad(np.sinc, holomorphic=True))(Z), want,
                                rtol=1e-10)
    soft = onp.exp(Z) / onp.sum(onp.exp(Z))
    onp.testing.assert_allclose(pyad.grad(np.logsumexp, holomorphic=True)(Z), soft, rtol=1e-12)


def test_values_against_numpy():
    onp.testing.assert_array_equal(np.real(Z), onp.real(Z))
    onp.testing.assert_array_equal(np.imag(Z), onp.imag(Z))
    onp.testing.assert_array_equal(np.conj(Z), onp.conj(Z))
    onp.testing.assert_array_equal(np.conjugate(Z), onp.conjugate(Z))
    onp.testing.assert_array_equal(np.angle(Z), onp.angle(Z))
    onp.testing.assert_array_equal(np.angle(Z, deg=True), onp.angle(Z, deg=True))
    onp.testing.assert_array_equal(np.abs(Z), onp.abs(Z))
    onp.testing.assert_array_equal(np.iscomplex(Z * onp.array([1, 0, 1, 1])),
                                   onp.iscomplex(Z * onp.array([1, 0, 1, 1])))
    near = Z.real + 1e-18j
    onp.testing.assert_array_equal(np.real_if_close(near), onp.real_if_close(near))
    onp.testing.assert_array_equal(np.real_if_close(Z), onp.real_if_close(Z))
    assert np.iscomplexobj(Z) and not np.iscomplexobj(X)


def test_traced_values_know_they_are_complex():
    def f(z):
        assert np.iscomplexobj(z) and z.dtype == onp.complex128
        r = np.real_if_close(z * 0 + z.real)
        assert not np.iscomplexobj(r)
        assert list(np.iscomplex(z)) == [True] * 4
        return np.sum(r) + np.sum(np.real(z.conjugate() * z.imag))
    plain = lambda z: float(onp.sum(z.real) + onp.sum((onp.conj(z) * z.imag).real))
    want = wirtinger_gradient(plain, Z)
    onp.testing.assert_allclose(pyad.grad(f)(Z), want, rtol=1e-6, atol=1e-8)


def test_abs_at_zero_is_zero():
    assert pyad.grad(lambda z: np.abs(z))(0j) == 0
    assert pyad.jvp(lambda z: np.abs(z), 0j, 1 + 1j)[1] == 0


def test_numpy_functions_on_traced_complex_values():
    # NumPy's own functions hand traced values to pyad.numpy (vdot conjugates)
    f = lambda z: onp.real(onp.vecdot(z, z)) if hasattr(onp, 'vecdot') else np.sum(np.abs(z) ** 2)
    onp.testing.assert_allclose(pyad.grad(f)(Z), 2 * onp.conj(Z), rtol=1e-12)
    g = lambda z: np.real(np.sum(onp.conj(z) * z))
    onp.testing.assert_allclose(pyad.grad(g)(Z), 2 * onp.conj(Z), rtol=1e-12)


# ----------------------------------------------------------------- functions built on them
# NumPy's own complex conventions: vdot, cov and correlate conjugate, norms take |z|
COMPOSITE = {
    'vdot': (lambda m, z: m.vdot(z, z[::-1]), Z),
    'cov': (lambda m, z: m.cov(z), M),
    'corrcoef': (lambda m, z: m.corrcoef(z), M),
    'correlate': (lambda m, z: m.correlate(z, z[:3], 'full'), Z),
    'correlate swapped': (lambda m, z: m.correlate(z[:2], z, 'same'), Z),
    'convolve': (lambda m, z: m.convolve(z, z[:3]), Z),
    'norm': (lambda m, z: m.linalg.norm(z), Z),
    'norm of matrix': (lambda m, z: m.linalg.norm(z), M),
    'norm 3': (lambda m, z: m.linalg.norm(z, 3), Z),
    'norm inf': (lambda m, z: m.linalg.norm(z, onp.inf), Z),
    'norm fro': (lambda m, z: m.linalg.norm(z, 'fro'), M),
    'norm 1 of matrix': (lambda m, z: m.linalg.norm(z, 1), M),
    'norm along axis': (lambda m, z: m.linalg.norm(z, axis=0), M),
    'dot': (lambda m, z: m.dot(z, z), Z),
    'outer': (lambda m, z: m.outer(z, z[:2]), Z),
    'trace': (lambda m, z: m.trace(z @ z), M),
    'polyval': (lambda m, z: m.polyval(z, z[0]), Z),
    'average': (lambda m, z: m.average(z, weights=onp.arange(1.0, 5.0)), Z),
    'var': (lambda m, z: m.var(z, axis=0, ddof=1), M),
    'std': (lambda m, z: m.std(z), Z),
}


@pytest.mark.parametrize('name', list(COMPOSITE))
def test_composite_functions_follow_numpy_for_complex_values(name):
    f, a = COMPOSITE[name]
    want = f(onp, a)
    onp.testing.assert_allclose(pyad.vjp(lambda z: f(np, z), a)[0], want, rtol=1e-12)
    check_grads(lambda z: f(np, z), a, order=2)
    check_grads(lambda z: f(np, z), a.astype(onp.complex64), order=1)


def test_spectral_norms_of_complex_matrices_follow_numpy():
    for ord in (2, -2, 'nuc'):
        onp.testing.assert_allclose(np.linalg.norm(M, ord), onp.linalg.norm(M, ord), rtol=1e-12)
        check_grads(lambda m: np.linalg.norm(m, ord), M, order=2)


def test_diff_and_diffn_of_a_complex_scalar_along_the_real_direction():
    # (for a holomorphic f: f'(z) and the higher derivatives)
    z = 0.5 + 0.3j
    assert pyad.diff(np.sin)(z) == pytest.approx(onp.cos(z))
    assert pyad.diffn(2, np.sin)(z) == pytest.approx(-onp.sin(z))
    assert pyad.diffn(3, lambda z: np.exp(z) * z)(z) == pytest.approx(onp.exp(z) * (z + 3))


def test_complex_of_a_traced_value_says_what_to_do():
    with pytest.raises(TypeError, match=r'complex\(\) of a traced value would drop'):
        pyad.grad(lambda x: np.real(complex(x)))(1.0)


def test_fixed_point_of_a_complex_map():
    # Heron's iteration for √a: its derivative 1 / (2 √a), holomorphic
    heron = lambda a, x: 0.5 * (x + a / x)
    a = onp.complex128(2.0 + 1.0j)
    want = 0.5 / onp.sqrt(a)
    root = lambda a: pyad.fixed_point(heron, a, a)
    assert pyad.grad(root, holomorphic=True)(a) == pytest.approx(want)
    assert pyad.jvp(lambda a: pyad.fixed_point(heron, a, a), a, 1j)[1] == pytest.approx(1j * want)
    g = pyad.grad(lambda a: np.abs(pyad.fixed_point(heron, a, a)) ** 2)(a)
    assert g == pytest.approx(wirtinger_gradient(lambda a: abs(onp.sqrt(a)) ** 2, a), rel=1e-6)


def test_real_and_complex_inputs_together():
    # a real x and a complex z meeting in one operation, x used elsewhere too: x's
    # cotangent is the real part of its share, summed with its other contributions
    def f(xz):
        x, z = xz
        y = x + z
        w = x * z[::-1] + y * y - x / (z + 3)
        return np.real(np.sum(w * np.conj(y))) + np.sum(x * x * 3.0)
    check_grads(f, (X, Z), order=2)
    check_grads(f, (X.astype(onp.float32), Z.astype(onp.complex64)), order=2)
    gx, gz = pyad.grad(f)((X, Z))
    assert gx.dtype == onp.float64 and gz.dtype == onp.complex128
    onp.testing.assert_allclose(gz, wirtinger_gradient(lambda z: float(f((X, z))), Z), rtol=1e-6)
    h = 1e-6
    fd = [(float(f((X + h * e, Z))) - float(f((X - h * e, Z)))) / (2 * h) for e in onp.eye(4)]
    onp.testing.assert_allclose(gx, fd, rtol=1e-6)


@pytest.mark.parametrize('name', ['sin', 'exp', 'log', 'sqrt', 'tanh', 'reciprocal', 'power',
                                  'arctan', 'log1p'])
def test_taylor_mode_on_complex_values_against_mpmath(name):
    mp = pytest.importorskip('mpmath')
    mp.mp.dps = 30
    f, mf = {'sin': (np.sin, mp.sin), 'exp': (np.exp, mp.exp), 'log': (np.log, mp.log),
             'sqrt': (np.sqrt, mp.sqrt), 'tanh': (np.tanh, mp.tanh),
             'reciprocal': (lambda z: 1 / z, lambda z: 1 / z),
             'power': (lambda z: z ** 2.5, lambda z: z ** 2.5), 'arctan': (np.arctan, mp.atan),
             'log1p': (np.log1p, mp.log1p)}[name]
    z = 0.6 + 0.4j
    for n in (1, 2, 3):
        want = complex(mp.diff(mf, mp.mpc(z.real, z.imag), n))
        assert pyad.diffn(n, f)(z) == pytest.approx(want, rel=1e-9)


def test_jacobian_of_complex_outputs_runs_forward():
    f = lambda x: np.exp(1j * x[:2]) * np.sum(x)
    J = pyad.jacobian(f)(X)
    onp.testing.assert_allclose(J, pyad.jacfwd(f)(X), rtol=1e-14)
    # complex inputs, real outputs: reverse mode, as jacrev (rows of JAX's gradients)
    onp.testing.assert_allclose(pyad.jacobian(np.abs)(Z), pyad.jacrev(np.abs)(Z), rtol=1e-14)
    with pytest.raises(TypeError, match='jacobian requires real-valued inputs'):
        pyad.jacobian(np.sin)(Z)


def test_optimisers_refuse_complex_parameters():
    # (their updates are written for real parameters: an error, not a wrong step)
    import pyad.optim as optim
    with pytest.raises(TypeError, match='adam: complex parameters are not supported'):
        optim.adam(0.1).init(Z)
    with pytest.raises(TypeError, match='complex parameters are not supported'):
        optim.gradient_descent(lambda z: np.sum(np.abs(z) ** 2), Z)


def test_numpy_logsumexp_of_complex_values_is_the_principal_branch_as_scipy():
    """The shift is the largest real part, so the imaginary part of the result is
    in (-pi, pi], as scipy.special.logsumexp gives (a complex maximum as the shift
    would leave it off by a multiple of 2 pi)."""
    import scipy.special
    a = onp.array([[5 + 10j, 4 + 1j], [1 - 3j, 2 + 7j]])
    for axis in (None, 0, 1):
        got = np.logsumexp(a, axis=axis)
        onp.testing.assert_allclose(got, scipy.special.logsumexp(a, axis=axis), rtol=1e-13)

"""The array library is chosen from the arrays themselves: a test, on the CPU, that
fails when a primitive or a rule hard-codes NumPy for array values.

``Tracked`` is a second array type (an ndarray subclass that NumPy's ufuncs and
``*_like`` functions carry through, as CuPy arrays are carried through CuPy).  A
rule that builds an array with ``numpy.zeros``, ``numpy.where``,
``numpy.broadcast_to`` or a SciPy routine, instead of from its inputs (or through
``pyad.backend.namespace`` and ``wrap_like``), hands back a plain ndarray and the
type check below catches it: that is the rule that would have moved a CuPy value
to the host (or failed on it).
"""
import types

import numpy as onp
import pytest

import pyad
import pyad.linalg as la
import pyad.numpy as pnp
from pyad import backend


class Tracked(onp.ndarray):
    """An array type of its own: ufunc results stay Tracked, 0-d ones included."""

    def __array_finalize__(self, obj):
        pass

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        return onp.asarray(arr).view(Tracked)


def tracked(x):
    return onp.asarray(x, dtype=float).view(Tracked)


rng = onp.random.default_rng(3)
X = tracked(rng.uniform(0.5, 1.5, 4))
A = tracked(rng.standard_normal((3, 3)) + 3 * onp.eye(3))
SV = onp.linalg.qr(rng.standard_normal((3, 3)))[0]
DISTINCT = tracked((SV * [3.0, 2.0, 1.0]) @ onp.linalg.qr(rng.standard_normal((3, 3)))[0].T)


def _spd(m):
    return m @ m.T + pnp.ones(3) * 0.0


# every derivative of these must keep the array type (a strict check)
VECTOR_FUNCS = {
    'sin exp log': lambda v: pnp.sum(pnp.sin(v) * pnp.exp(v) * pnp.log(v)),
    'tanh sqrt power': lambda v: pnp.sum(pnp.tanh(v) * pnp.sqrt(v) + v ** 3),
    'linalg norm 2': lambda v: la.norm(v),
    'linalg norm p': lambda v: la.norm(v, 3),
    'fixed_point': lambda v: pnp.sum(pyad.fixed_point(lambda a, y: (y + a / y) / 2, v, pnp.ones(4))),
    'fixed_point closure': lambda v: pyad.fixed_point(
        lambda _, y: 0.05 * pnp.cos(y) * (v @ v), None, 0.0),
    # symbolic-zero derivatives (a zero Hessian) and the identity seeds of hessian
    'zero hessian': lambda v: la.norm(v, onp.inf),
    'identity seeds': lambda v: pnp.sum(pnp.reshape(v, (2, 2)) @ pnp.reshape(v, (2, 2))),
}
MATRIX_FUNCS = {
    'solve': lambda m: pnp.sum(la.solve(m, pnp.ones(3)) ** 2),
    'solve_symmetric': lambda m: pnp.sum(la.solve_symmetric(_spd(m), pnp.ones(3)) ** 2),
    'cholesky': lambda m: pnp.sum(la.cholesky(_spd(m)) ** 2),
    'cho_solve': lambda m: pnp.sum(la.cho_solve(la.cholesky(_spd(m)), pnp.ones(3)) ** 2),
    'solve_triangular': lambda m: pnp.sum(la.solve_triangular(m, pnp.ones(3), lower=True) ** 2),
    'inv': lambda m: pnp.sum(la.inv(m) ** 2),
    'det': la.det,
    'slogdet': lambda m: la.slogdet(m).logabsdet,
    'pinv': lambda m: pnp.sum(la.pinv(m) ** 2),
    'lstsq': lambda m: pnp.sum(la.lstsq(m, pnp.ones(3))[0] ** 2),
    'eigh': lambda m: pnp.sum(la.eigh(_spd(m)).eigenvectors[0] ** 2 * onp.arange(3.0)),
    'svd': lambda m: la.norm(m, 'nuc') ** 2,
    'qr': lambda m: pnp.sum(la.qr(m).Q * la.qr(m).R),
    'expm': lambda m: pnp.sum(la.expm(m / 4) ** 2),
    'matrix_power': lambda m: pnp.sum(la.matrix_power(m, -2) ** 2),
    'norm fro': lambda m: la.norm(m, 'fro'),
}

# rules outside linalg/fixed_point that once built plain ndarrays (numpy.where,
# numpy.zeros, broadcast_to, einsum, tril): strict now, like the others
VECTOR_FUNCS.update({
    'where': lambda v: pnp.sum(pnp.where(v > 1.0, v, v * v)),
    'maximum': lambda v: pnp.sum(pnp.maximum(v, 1.0) ** 2),
    'getitem': lambda v: pnp.sum(v[1:3] ** 2) + v[0] * v[3],
    'broadcast_to / sum': lambda v: pnp.mean(v ** 2),
    'sort': lambda v: pnp.sum(pnp.sort(v) * onp.arange(4.0)),
    'tril': lambda v: pnp.sum(pnp.tril(pnp.reshape(v, (2, 2))) ** 2),
    'einsum': lambda v: pnp.sum(pnp.einsum('i,j->ij', v, v) ** 2),
})


def _derivatives(f, x):
    """Every way to differentiate f at x: first order in both modes, the Hessian
    (forward over reverse, batched), reverse over reverse, reverse over forward."""
    v = tracked(onp.ones(x.shape))
    return {
        'grad': pyad.grad(f)(x),
        'jvp': pyad.jvp(f, x, v)[1],
        'hessian': pyad.hessian(f)(x),
        'grad of grad·v': pyad.grad(lambda y: pnp.sum(pyad.grad(f)(y) * v))(x),
        'grad of jvp': pyad.grad(lambda y: pyad.jvp(f, y, v)[1])(x),
    }


def _check_tracked(f, x):
    assert type(f(x)) is Tracked, 'the value'
    bad = {name: type(d).__name__ for name, d in _derivatives(f, x).items() if type(d) is not Tracked}
    assert not bad, f'derivatives that left the array type: {bad}'


@pytest.mark.parametrize('name', sorted(VECTOR_FUNCS))
def test_vector_functions_keep_array_type(name):
    _check_tracked(VECTOR_FUNCS[name], X)


@pytest.mark.parametrize('name', sorted(MATRIX_FUNCS))
def test_linalg_keeps_array_type(name):
    x = DISTINCT if name in ('svd', 'pinv', 'qr', 'lstsq') else A
    _check_tracked(MATRIX_FUNCS[name], x)


def test_linalg_values_keep_array_type():
    b = tracked(onp.ones((3, 2)))
    outs = [la.solve(A, b), la.solve_triangular(A, b), la.inv(A), la.det(A), la.cholesky(_spd(A)),
            la.expm(A / 4), la.pinv(A), la.eigh(_spd(A)).eigenvalues, la.svd(A).S, la.qr(A).Q,
            la.slogdet(A).sign, la.matrix_power(A, 0), la.norm(A, 'nuc'), la.lstsq(A, b)[0],
            la.solve_symmetric(_spd(A), b)]
    assert [type(o).__name__ for o in outs] == ['Tracked'] * len(outs)


def test_wrap_like():
    plain = onp.ones(3)
    assert type(backend.wrap_like(plain, X)) is Tracked
    assert type(backend.wrap_like(onp.float64(2.0), X)) is Tracked
    assert backend.wrap_like(plain, onp.zeros(2)) is plain
    assert backend.wrap_like(2.0, 1.0) == 2.0


def test_namespace_is_chosen_from_values():
    assert backend.namespace(X) is onp and backend.namespace(1.0) is onp
    assert backend.namespace(pyad.grad(lambda x: x)(1.0)) is onp


def test_registered_library_without_scipy_counterpart_says_so():
    class Other(onp.ndarray):
        pass
    xp = types.SimpleNamespace()          # a namespace of its own, with no scipy.special
    backend.register(Other, xp)
    try:
        x = onp.ones(3).view(Other)
        assert backend.namespace(x) is xp
        with pytest.raises(TypeError, match=r'registered without a scipy.special counterpart'):
            backend.scipy_special(x)
    finally:
        backend._REGISTERED.pop(Other)

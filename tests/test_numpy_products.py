"""Products: matmul, einsum, dot, vdot, inner, outer, tensordot, kron."""
import string

import numpy as onp
import pytest

import pyad
import pyad.numpy as np
from pyad.testing import check_grads

from .helpers import assert_nested_jacobians_agree

rng = onp.random.default_rng(1)


def randn(*shape):
    return rng.standard_normal(shape) if shape else onp.float64(rng.standard_normal())


PAIRS = {
    'matmul': [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 2)),
               ((2, 2, 3), (3, 2)), ((2, 3), (2, 3, 2)), ((2, 1, 2, 3), (2, 3, 2)),
               ((3,), (2, 3, 2)), ((2, 2, 3), (3,)), ((1, 2, 3), (2, 3, 4))],
    'dot': [((), (3,)), ((3,), ()), ((), ()), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)),
            ((2, 3), (3, 2)), ((2, 2, 3), (3,)), ((3,), (2, 3, 2)), ((2, 3), (2, 3, 2)),
            ((2, 2, 3), (2, 3, 2))],
    'vdot': [((3,), (3,)), ((2, 3), (3, 2)), ((), ()), ((2, 3, 4), (24,))],
    'inner': [((), (3,)), ((3,), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 3), (4, 3)),
              ((2, 2, 3), (2, 3))],
    'outer': [((3,), (2,)), ((2, 2), (3,)), ((), (2,)), ((2, 3), (2, 3))],
    'kron': [((2,), (3,)), ((2, 2), (3,)), ((2, 1), (2, 3)), ((), (2,)), ((2, 1, 2), (2, 2)),
             ((), ())],
}
PAIR_CASES = [(name, sa, sb) for name, ps in PAIRS.items() for sa, sb in ps]


@pytest.mark.parametrize('name,sa,sb', PAIR_CASES)
def test_pair_products(name, sa, sb):
    a, b = randn(*sa), randn(*sb)
    f = getattr(np, name)
    got, want = f(a, b), getattr(onp, name)(a, b)
    onp.testing.assert_array_equal(got, want)
    assert onp.shape(got) == onp.shape(want)
    check_grads(lambda ab: f(*ab), (a, b), order=2)
    # one argument constant, each way
    check_grads(lambda a: f(a, b), a, order=2)
    check_grads(lambda b: f(a, b), b, order=2)


def test_matmul_operator_and_self_product():
    x = randn(3, 3)
    check_grads(lambda x: x @ x, x, order=2)
    check_grads(lambda x: x.T @ x @ x[0], x, order=2)
    check_grads(lambda x: onp.ones((2, 3)) @ x, x, order=2)


TENSORDOT = [((2, 3), (3, 2), 1), ((2, 3), (2, 3), 2), ((2, 3), (4,), 0), ((3,), (3,), 1),
             ((2, 3, 2), (3, 2, 2), ([1, 2], [0, 1])), ((2, 3, 2), (3, 2), ([0, 1], [1, 0])),
             ((2, 3), (3, 2), ([1], [0])), ((2, 3, 4), (4, 3), ([-1, 1], [0, 1])),
             ((2, 3), (3, 4), (1, 0)), ((), (2,), 0)]


@pytest.mark.parametrize('sa,sb,axes', TENSORDOT)
def test_tensordot(sa, sb, axes):
    a, b = randn(*sa), randn(*sb)
    got, want = np.tensordot(a, b, axes), onp.tensordot(a, b, axes)
    onp.testing.assert_array_equal(got, want)
    assert onp.shape(got) == onp.shape(want)
    check_grads(lambda ab: np.tensordot(*ab, axes=axes), (a, b), order=2)


def test_dot_with_a_number_keeps_float32_traced_or_not():
    """A product with a Python number, as JAX's: NumPy's dot makes the int an int64
    array and gives float64, which pyad's traced dot never did."""
    v = onp.array([0.5, -1.25, 2.0], dtype=onp.float32)
    for a, b in ((v, 2), (2, v), (v, 0.5)):
        out = np.dot(a, b)
        assert out.dtype == onp.float32, (a, b, out.dtype)
        onp.testing.assert_array_equal(out, onp.multiply(a, b))
    g = pyad.grad(lambda x: np.sum(np.dot(x, 3)))(v)
    assert g.dtype == onp.float32
    onp.testing.assert_array_equal(g, onp.full(3, 3, onp.float32))
    assert np.dot(onp.arange(3), 2).dtype == onp.arange(3).dtype     # integers stay integers


EINSUM = [
    ('ij,jk->ik', [(2, 3), (3, 4)]), ('ij,jk', [(2, 3), (3, 4)]), ('ij->ji', [(2, 3)]),
    ('ba', [(2, 3)]), ('ij->', [(2, 3)]), ('ij->j', [(2, 3)]), ('i,i', [(3,), (3,)]),
    ('i,i->', [(3,), (3,)]), ('i,j->ij', [(2,), (3,)]), (',i->i', [(), (3,)]), ('->', [()]),
    ('ii->i', [(3, 3)]), ('ii', [(3, 3)]), ('iij->ji', [(2, 2, 3)]), ('ii,i->i', [(3, 3), (3,)]),
    ('iji->j', [(2, 3, 2)]), ('iii->i', [(2, 2, 2)]),
    ('...ij,...jk->...ik', [(2, 2, 3), (3, 2)]), ('...i,...i', [(2, 3), (3,)]),
    ('i...->...', [(2, 3)]), ('...', [(2, 3)]), ('...ii->...i', [(2, 3, 3)]),
    ('b...i,b...i->b...', [(2, 2, 3), (2, 2, 3)]), ('...ij,j', [(2, 2, 3), (3,)]),
    ('ij,ij->ij', [(3, 1), (3, 4)]), ('ij,ij->i', [(3, 1), (3, 4)]), ('ij,kj->ik', [(2, 1), (3, 4)]),
    ('ij,jk,kl->il', [(2, 3), (3, 2), (2, 2)]), ('bij,bjk->bik', [(2, 2, 3), (2, 3, 2)]),
    ('ij,ij,ij->', [(2, 3), (2, 3), (2, 3)]), ('i j , j k -> i k', [(2, 3), (3, 2)]),
    ('Ab,bA->A', [(2, 3), (3, 2)]),
]


@pytest.mark.parametrize('subscripts,shapes', EINSUM)
def test_einsum(subscripts, shapes):
    ops = [randn(*s) for s in shapes]
    got, want = np.einsum(subscripts, *ops), onp.einsum(subscripts, *ops)
    onp.testing.assert_array_equal(got, want)
    assert onp.shape(got) == onp.shape(want)
    check_grads(lambda ops: np.einsum(subscripts, *ops), ops, order=2)


def test_einsum_same_operand_twice_and_constants():
    x = randn(3, 3)
    check_grads(lambda x: np.einsum('ij,jk,ki->', x, x, x), x, order=2)
    c = randn(3)
    check_grads(lambda x: np.einsum('ii,i,ij->j', x, c, x), x, order=2)
    check_grads(lambda x: np.einsum('ij,ij->i', x, x), x, order=2, seed=3)


def test_einsum_matches_matmul_gradient():
    a, b = randn(2, 3), randn(3, 4)
    f1 = lambda a: np.sum(np.sin(np.einsum('ij,jk->ik', a, b)))
    f2 = lambda a: np.sum(np.sin(a @ b))
    onp.testing.assert_allclose(pyad.grad(f1)(a), pyad.grad(f2)(a))
    onp.testing.assert_allclose(pyad.hessian(f1)(a), pyad.hessian(f2)(a))


def test_einsum_optimize_passes_through():
    ops = [randn(2, 3), randn(3, 4), randn(4, 2)]
    onp.testing.assert_allclose(np.einsum('ij,jk,kl->il', *ops, optimize=True),
                                onp.einsum('ij,jk,kl->il', *ops))
    check_grads(lambda ops: np.einsum('ij,jk,kl->il', *ops, optimize='greedy'), ops, order=2)


# ----------------------------------------------------------------- float32
F32 = [
    ('matmul', lambda a, b: np.matmul(a, b)),
    ('einsum', lambda a, b: np.einsum('ij,jk->ik', a, b)),
    ('einsum-diag', lambda a, b: np.einsum('ii,ij->j', a @ b, a)),
    ('dot', lambda a, b: np.dot(a, b)),
    ('tensordot', lambda a, b: np.tensordot(a, b, 1)),
    ('inner', lambda a, b: np.inner(a, b.T)),
    ('vdot', lambda a, b: np.vdot(a, b.T)),
    ('outer', lambda a, b: np.outer(a, b)),
    ('kron', lambda a, b: np.kron(a, b)),
]


@pytest.mark.parametrize('name,fn', F32)
def test_float32_kept(name, fn):
    a = randn(3, 3).astype(onp.float32)
    b = randn(3, 3).astype(onp.float32)
    f = lambda a: np.sum(np.sin(fn(a, b)))
    assert fn(a, b).dtype == onp.float32
    assert onp.asarray(f(a)).dtype == onp.float32
    assert pyad.grad(f)(a).dtype == onp.float32
    assert pyad.hessian(f)(a).dtype == onp.float32
    J = pyad.jacrev(lambda a: fn(a, b))(a)
    assert J.dtype == onp.float32
    check_grads(f, a, order=1)


# ----------------------------------------------------------------- errors
def test_errors():
    with pytest.raises(ValueError, match='matmul'):
        np.matmul(onp.ones((2, 3)), onp.ones((2, 3)))
    with pytest.raises(ValueError, match='dot'):
        np.dot(onp.ones((2, 3)), onp.ones((2, 3)))
    with pytest.raises(ValueError, match='vdot'):
        np.vdot(onp.ones(3), onp.ones(4))
    with pytest.raises(ValueError, match='inner'):
        np.inner(onp.ones(3), onp.ones(4))
    with pytest.raises(ValueError, match='tensordot'):
        np.tensordot(onp.ones((2, 3)), onp.ones((2, 3)), ([0], [1]))
    with pytest.raises(ValueError, match='tensordot'):
        np.tensordot(onp.ones((2, 3)), onp.ones((2, 3)), 3)
    with pytest.raises(ValueError, match='einsum'):
        np.einsum('ij,jk->ik', onp.ones((2, 3)), onp.ones((4, 2)))
    with pytest.raises(ValueError, match='einsum'):
        np.einsum('ij->ik', onp.ones((2, 3)))
    with pytest.raises(ValueError, match='einsum'):
        np.einsum('ij,jk->ik', onp.ones((2, 3)))
    with pytest.raises(ValueError, match='einsum'):
        np.einsum('ijk->i', onp.ones((2, 3)))
    with pytest.raises(ValueError, match='einsum'):
        np.einsum('...ij->ij', onp.ones((2, 2, 3)))
    with pytest.raises(ValueError, match='einsum'):
        np.einsum('i1->i', onp.ones((2, 3)))
    with pytest.raises(TypeError, match='einsum: a sublist must be a list'):
        np.einsum(onp.ones(3), 0)
    with pytest.raises(ValueError, match='einsum: a subscript in a sublist'):
        np.einsum(onp.ones(3), [-1])


@pytest.mark.parametrize('subscripts,shapes,error,message', [
    ('ij->ij->i', [(2, 2)], ValueError, "more than one '->'"),
    ('ij...->i', [(2,)], ValueError, r"operand 'ij\.\.\.' has 2 indices but only 1 dimensions"),
    ('ij->ii', [(2, 2)], ValueError, "output subscripts 'ii' repeat an index"),
    ('i...,i->i', [(2, 3), (2,)], ValueError, r"broadcast dimensions \('\.\.\.'\) but the output"),
    ('i.j->i', [(2, 3)], ValueError, "invalid subscript '.'"),
    ('ij,ij', [(2, 3), (3, 3)], ValueError, "index 'i' has size 2 in one place and 3"),
    # every letter taken, and '...' needs one more
    (string.ascii_letters[:26] + '...,' + string.ascii_letters[26:],
     [(1,) * 27, (1,) * 26], NotImplementedError, 'more than 52 distinct indices'),
])
def test_einsum_subscript_errors(subscripts, shapes, error, message):
    ops = [onp.ones(s) for s in shapes]
    with pytest.raises(error, match='einsum: .*' + message):
        np.einsum(subscripts, *ops)
    with pytest.raises(error, match='einsum: .*' + message):     # a traced call says the same
        pyad.grad(lambda x: np.sum(np.einsum(subscripts, x, *ops[1:])))(ops[0])


@pytest.mark.parametrize('axes,error,message', [
    (5.0, TypeError, 'axes must be an int or a pair of axis sequences'),
    (([0], [0, 1]), ValueError, r'axes \(\[0\], \[0, 1\]\) name 1 and 2 axes'),
    (([0, 5], [0, 1]), ValueError, 'axis 5 is out of bounds'),
    (([0, 0], [0, 1]), ValueError, 'repeated axis'),
    ((1, 0), ValueError, 'shape-mismatch for sum: axis 1 of a'),
])
def test_tensordot_axes_errors(axes, error, message):
    a, b = onp.ones((2, 3)), onp.ones((2, 3))
    with pytest.raises(error, match='tensordot: ' + message):
        np.tensordot(a, b, axes)
    with pytest.raises(error, match='tensordot: ' + message):
        pyad.grad(lambda x: np.sum(np.tensordot(x, b, axes)))(a)


def test_einsum_interleaved_form():
    a, b = randn(2, 3, 4), randn(2, 3, 4)
    for args in [(a, [Ellipsis, 1, 2], b, [Ellipsis, 1, 2], [Ellipsis, 2]),   # explicit output
                 (a, [0, 1, 2], b, [0, 1, 3])]:                              # implicit output
        want = onp.einsum(*args)
        onp.testing.assert_allclose(np.einsum(*args), want, rtol=1e-12)
        check_grads(lambda ab: np.einsum(ab[0], args[1], ab[1], *args[3:]), (a, b), order=2)
    with pytest.raises(TypeError, match='einsum: the interleaved form takes operand, sublist'):
        np.einsum([0, 1])


# ----------------------------------------------------------------- nested batches
NESTED = {
    'einsum': lambda x: np.sin(np.einsum('ij,kj->ik', x, x)),
    'einsum-diag': lambda x: np.einsum('ii->i', np.einsum('ij,kj->ik', x, x)),
    'einsum-broadcast': lambda x: np.einsum('ij,ij->i', x[:, :1], x),
    'dot': lambda x: np.dot(x, x.T), 'kron': lambda x: np.kron(x, x[0]),
    'tensordot': lambda x: np.tensordot(x, x, ([0], [0])), 'matmul': lambda x: x[0] @ x.T,
    'outer': lambda x: np.outer(x[0], x), 'inner': lambda x: np.inner(x, x),
}


@pytest.mark.parametrize('name', sorted(NESTED))
def test_nested_batched_jacobians_agree(name):
    """Two levels of batch axes (jacfwd/jacrev nested both ways) give one answer."""
    assert_nested_jacobians_agree(NESTED[name], onp.array([[0.3, 0.0, -1.2], [0.7, 1.1, -0.4]]))


# ----------------------------------------------------------------- random einsums
from hypothesis import given, settings, HealthCheck, strategies as st  # noqa: E402


@st.composite
def einsum_specs(draw):
    labels = 'abcd'
    sizes = {c: draw(st.integers(1, 3)) for c in labels}
    n_ops = draw(st.integers(1, 3))
    ins, shapes = [], []
    for _ in range(n_ops):
        part = ''.join(draw(st.lists(st.sampled_from(labels), min_size=0, max_size=3)))
        # a dimension may be 1 where the index is bigger elsewhere (broadcasting),
        # except for a repeated index, whose dimensions must agree
        shape = tuple(1 if part.count(c) == 1 and draw(st.integers(0, 4)) == 0 else sizes[c]
                      for c in part)
        ins.append(part)
        shapes.append(shape)
    used = sorted(set(''.join(ins)))
    if draw(st.booleans()):
        return ','.join(ins), shapes      # implicit output
    out = ''.join(draw(st.permutations(used))[:draw(st.integers(0, len(used)))])
    return ','.join(ins) + '->' + out, shapes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(einsum_specs(), st.integers(0, 2 ** 16))
def test_einsum_random(spec, seed):
    subscripts, shapes = spec
    r = onp.random.default_rng(seed)
    ops = [r.standard_normal(s) for s in shapes]
    onp.testing.assert_array_equal(np.einsum(subscripts, *ops), onp.einsum(subscripts, *ops))
    check_grads(lambda ops: np.einsum(subscripts, *ops), ops, order=2)

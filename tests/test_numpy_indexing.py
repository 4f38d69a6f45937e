"""Indexing (x[idx]) and its adjoint: every NumPy index form, batched derivatives
(check_grads runs jacfwd and jacrev), and accumulation at repeated indices."""
import numpy as onp
import pytest

import pyad
import pyad.numpy as np
from pyad.testing import check_grads
from pyad.numpy.indexing import index

rng = onp.random.default_rng(1)


def R(*shape, dtype=onp.float64):
    return rng.standard_normal(shape).astype(dtype)


MASK3 = onp.array([True, False, True])
MASK23 = onp.array([[True, False, True], [False, True, True]])

# (id, index, input shape)
INDICES = [
    ('int', 1, (3,)),
    ('0d-none', None, ()),
    ('0d-empty-tuple', (), ()),
    ('0d-ellipsis', (None, Ellipsis, None), ()),
    ('neg-int', -1, (2, 3)),
    ('int-int', (1, -2), (2, 3)),
    ('np-int', onp.int64(1), (2, 3)),
    ('0d-array', onp.array(2), (3,)),
    ('slice', slice(1, None), (3,)),
    ('neg-step', slice(None, None, -1), (2, 3)),
    ('step-2d', (slice(None, None, 2), slice(1, None)), (3, 3)),
    ('empty-slice', slice(2, 1), (3,)),
    ('ellipsis', (Ellipsis, 1), (2, 2, 3)),
    ('ellipsis-mid', (0, Ellipsis, -1), (2, 2, 3)),
    ('none', (None,), (3,)),
    ('none-mid', (slice(None), None, 1), (2, 3)),
    ('none-ellipsis', (None, Ellipsis, None), (2, 3)),
    ('list', [0, 2], (3,)),
    ('empty-list', [], (3,)),
    ('tuple-in-index', ((0, 0, 1),), (3,)),
    ('repeated-2d', ([[0, 0], [2, 0]], slice(None)), (3, 2)),
    ('repeated', [0, 0, 2, 0], (3,)),
    ('neg-array', [-1, -1, 0], (2, 3)),
    ('2d-index-array', onp.array([[0, 1], [1, 1]]), (3,)),
    ('pairs', ([0, 1, 1], [2, 2, 2]), (2, 3)),
    ('pairs-broadcast', (onp.array([[0], [1]]), onp.array([0, 2, 2])), (2, 3)),
    ('adjacent-late', (slice(None), [0, 0], [1, 2]), (2, 2, 3)),
    ('separated', (0, slice(None), [1, 2]), (2, 2, 3)),
    ('separated-0d', (onp.array(0), slice(None), [1, 2, 1]), (2, 2, 3)),
    ('separated-arrays', ([1, 0], slice(None), [2, 2]), (2, 2, 3)),
    ('separated-ellipsis', ([0, 1], Ellipsis, [2, 0]), (2, 2, 3)),
    ('ellipsis-zero-len', ([0, 1], Ellipsis, [2, 0]), (2, 3)),
    ('separated-none', ([1, 1], None, [0, 2]), (2, 3)),
    ('array-then-slice', ([1, 0, 1], slice(0, 2)), (2, 3)),
    ('ellipsis-array', (Ellipsis, [2, 0, 2]), (2, 3)),
    ('mask', MASK3, (3,)),
    ('mask-2d', MASK23, (2, 3)),
    ('mask-axis1', (slice(None), MASK3), (2, 3)),
    ('mask-and-int', (1, MASK3), (2, 3)),
    ('mask-separated', (MASK3[:2], slice(None), [0, 2]), (2, 2, 3)),
    ('mask-ellipsis', (Ellipsis, MASK3), (2, 2, 3)),
]


@pytest.mark.parametrize('name,idx,shape', INDICES, ids=[c[0] for c in INDICES])
def test_getitem(name, idx, shape):
    x = R(*shape)
    expected = x[idx]
    f = lambda x: x[idx] * 1.5
    got = pyad.grad(lambda x: np.sum(f(x) ** 2))(x)    # traced once to see it runs
    assert got.shape == x.shape
    onp.testing.assert_array_equal(index(x, idx), expected)
    check_grads(f, x, order=2)
    check_grads(lambda x: np.sin(x)[idx] * x[idx], x, order=2)


@pytest.mark.parametrize('name,idx,shape', INDICES[::4], ids=[c[0] for c in INDICES[::4]])
def test_getitem_float32(name, idx, shape):
    x = R(*shape, dtype=onp.float32)
    loss = lambda x: np.sum(x[idx] ** 3)
    assert pyad.grad(loss)(x).dtype == onp.float32
    assert pyad.hessian(loss)(x).dtype == onp.float32


def test_repeated_indices_accumulate():
    x = onp.array([1.0, 2.0, 3.0])
    w = onp.array([1.0, 10.0, 100.0, 1000.0])
    g = pyad.grad(lambda x: np.sum(x[[0, 0, 2, 0]] * w))(x)
    onp.testing.assert_array_equal(g, [1011.0, 0.0, 100.0])
    # second order: d²/dx² sum(x[[1, 1]]**3) = 2 * 6 x1
    H = pyad.hessian(lambda x: np.sum(x[[1, 1]] ** 3))(x)
    onp.testing.assert_allclose(H, onp.diag([0.0, 24.0, 0.0]))
    # batched reverse: each row of the Jacobian counts the repeats
    J = pyad.jacrev(lambda x: x[[2, 2]] + x[[2, 0]])(x)
    onp.testing.assert_array_equal(J, [[0.0, 0.0, 2.0], [1.0, 0.0, 1.0]])
    # pairs of repeated 2-d indices
    y = R(2, 3)
    g = pyad.grad(lambda y: np.sum(y[[1, 1, 0], [2, 2, 2]]))(y)
    onp.testing.assert_array_equal(g, [[0, 0, 1.0], [0, 0, 2.0]])
    # a separated advanced index with repeats, through jacfwd and jacrev
    z = R(2, 2, 3)
    f = lambda z: z[0, :, [1, 1]]
    jf, jr = pyad.jacfwd(f)(z), pyad.jacrev(f)(z)
    onp.testing.assert_array_equal(jf, jr)
    assert jf.shape == (2, 2, 2, 2, 3)
    onp.testing.assert_array_equal(pyad.grad(lambda z: np.sum(f(z)))(z)[0, :, 1], [2.0, 2.0])


def test_index_of_index_and_iteration():
    x = R(3, 2)
    check_grads(lambda x: x[1:][0] * x[-1], x, order=2)
    check_grads(lambda x: np.stack([r[1] for r in x]), x, order=2)


def test_mask_from_traced_comparison():
    x = onp.array([0.5, -1.0, 2.0, -0.3])
    f = lambda x: x[x > 0] ** 2
    onp.testing.assert_array_equal(f(x), x[x > 0] ** 2)
    onp.testing.assert_array_equal(pyad.grad(lambda x: np.sum(f(x)))(x), [1.0, 0.0, 4.0, 0.0])
    check_grads(f, x, order=2)


def test_index_errors():
    x = onp.ones(3)
    with pytest.raises(IndexError):
        pyad.grad(lambda x: x[x])(x)
    with pytest.raises(IndexError):
        pyad.grad(lambda x: np.sum(x[[0.5]]))(x)
    with pytest.raises(TypeError, match='assignment'):
        def f(x):
            x[0] = 1.0
            return np.sum(x)
        pyad.grad(f)(x)

"""Shape operations: values equal NumPy's, derivatives pass check_grads to order 2."""
import numpy as onp
import pytest

import pyad
import pyad.numpy as np
from pyad.testing import check_grads

rng = onp.random.default_rng(0)


def R(*shape, dtype=onp.float64):
    return rng.standard_normal(shape).astype(dtype)


# (name, f on pyad values, the same with numpy, input)
CASES = [
    ('concatenate0', lambda x: np.concatenate([x, 2 * x[:1]], axis=0),
     lambda x: onp.concatenate([x, 2 * x[:1]], axis=0), R(2, 3)),
    ('concatenate1', lambda x: np.concatenate([x, x * x, onp.ones((2, 1))], axis=1),
     lambda x: onp.concatenate([x, x * x, onp.ones((2, 1))], axis=1), R(2, 3)),
    ('concatenate-1', lambda x: np.concatenate((x, onp.ones((2, 2))), axis=-1),
     lambda x: onp.concatenate((x, onp.ones((2, 2))), axis=-1), R(2, 3)),
    ('concatenateNone', lambda x: np.concatenate([x, x[0]], axis=None),
     lambda x: onp.concatenate([x, x[0]], axis=None), R(2, 3)),
    ('stack0', lambda x: np.stack([x, 3 * x, onp.ones(3)]),
     lambda x: onp.stack([x, 3 * x, onp.ones(3)]), R(3)),
    ('stack1', lambda x: np.stack([x, x * x], axis=1),
     lambda x: onp.stack([x, x * x], axis=1), R(2, 3)),
    ('stack-1', lambda x: np.stack([x, x * x], axis=-1),
     lambda x: onp.stack([x, x * x], axis=-1), R(2, 3)),
    ('stack-scalars', lambda x: np.stack([x, 2 * x, x * x]),
     lambda x: onp.stack([x, 2 * x, x * x]), 1.3),
    ('hstack1d', lambda x: np.hstack([x, x * x]), lambda x: onp.hstack([x, x * x]), R(3)),
    ('hstack2d', lambda x: np.hstack([x, x[:, :1]]), lambda x: onp.hstack([x, x[:, :1]]), R(2, 3)),
    ('vstack', lambda x: np.vstack([x, x * x]), lambda x: onp.vstack([x, x * x]), R(3)),
    ('vstack2d', lambda x: np.vstack([x, x[:1]]), lambda x: onp.vstack([x, x[:1]]), R(2, 3)),
    ('dstack', lambda x: np.dstack([x, x * x]), lambda x: onp.dstack([x, x * x]), R(2, 3)),
    ('column_stack', lambda x: np.column_stack([x, x * x]),
     lambda x: onp.column_stack([x, x * x]), R(3)),
    ('column_stack2d', lambda x: np.column_stack([x, x[:, 0]]),
     lambda x: onp.column_stack([x, x[:, 0]]), R(2, 3)),
    ('tile', lambda x: np.tile(x, 2), lambda x: onp.tile(x, 2), R(3)),
    ('tile2', lambda x: np.tile(x, (2, 1, 2)), lambda x: onp.tile(x, (2, 1, 2)), R(2, 3)),
    ('tile-2d-int', lambda x: np.tile(x, 2), lambda x: onp.tile(x, 2), R(2, 3)),
    ('tile-scalar', lambda x: np.tile(x, (2, 2)), lambda x: onp.tile(x, (2, 2)), 0.7),
    ('repeat-int', lambda x: np.repeat(x, 2), lambda x: onp.repeat(x, 2), R(2, 3)),
    ('repeat-axis', lambda x: np.repeat(x, 2, axis=1), lambda x: onp.repeat(x, 2, axis=1), R(2, 3)),
    ('repeat-each', lambda x: np.repeat(x, [1, 0, 3], axis=-1),
     lambda x: onp.repeat(x, [1, 0, 3], axis=-1), R(2, 3)),
    ('repeat-scalar', lambda x: np.repeat(x, 3), lambda x: onp.repeat(x, 3), 0.4),
    ('flip', lambda x: np.flip(x), lambda x: onp.flip(x), R(2, 3)),
    ('flip1', lambda x: np.flip(x, 1), lambda x: onp.flip(x, 1), R(2, 3)),
    ('flip-tuple', lambda x: np.flip(x, (0, -1)), lambda x: onp.flip(x, (0, -1)), R(2, 3)),
    ('fliplr', lambda x: np.fliplr(x), lambda x: onp.fliplr(x), R(2, 3)),
    ('flipud', lambda x: np.flipud(x), lambda x: onp.flipud(x), R(2, 3)),
    ('roll', lambda x: np.roll(x, 1), lambda x: onp.roll(x, 1), R(2, 3)),
    ('roll-axis', lambda x: np.roll(x, -1, axis=1), lambda x: onp.roll(x, -1, axis=1), R(2, 3)),
    ('roll-multi', lambda x: np.roll(x, (1, 2), axis=(0, 1)),
     lambda x: onp.roll(x, (1, 2), axis=(0, 1)), R(2, 3)),
    ('roll-big', lambda x: np.roll(x, 7), lambda x: onp.roll(x, 7), R(3)),
    ('pad-int', lambda x: np.pad(x, 1), lambda x: onp.pad(x, 1), R(2, 3)),
    ('pad-pair', lambda x: np.pad(x, (1, 2), constant_values=0.5),
     lambda x: onp.pad(x, (1, 2), constant_values=0.5), R(3)),
    ('pad-axes', lambda x: np.pad(x, ((0, 1), (2, 0))), lambda x: onp.pad(x, ((0, 1), (2, 0))), R(2, 3)),
    ('pad-edge', lambda x: np.pad(x, ((1, 2), (0, 1)), mode='edge'),
     lambda x: onp.pad(x, ((1, 2), (0, 1)), mode='edge'), R(2, 3)),
    ('pad-reflect', lambda x: np.pad(x, 2, mode='reflect'),
     lambda x: onp.pad(x, 2, mode='reflect'), R(3)),
    ('pad-symmetric', lambda x: np.pad(x, ((1, 1), (2, 1)), mode='symmetric'),
     lambda x: onp.pad(x, ((1, 1), (2, 1)), mode='symmetric'), R(2, 3)),
    ('pad-wrap', lambda x: np.pad(x, (2, 1), mode='wrap'),
     lambda x: onp.pad(x, (2, 1), mode='wrap'), R(3)),
    ('triu', lambda x: np.triu(x), lambda x: onp.triu(x), R(3, 3)),
    ('triu1', lambda x: np.triu(x, 1), lambda x: onp.triu(x, 1), R(2, 3)),
    ('tril', lambda x: np.tril(x), lambda x: onp.tril(x), R(3, 3)),
    ('tril-1', lambda x: np.tril(x, -1), lambda x: onp.tril(x, -1), R(2, 3)),
    ('tril-batch', lambda x: np.tril(x), lambda x: onp.tril(x), R(2, 2, 3)),
    ('tril-1d', lambda x: np.tril(x), lambda x: onp.tril(x), R(3)),
    ('diag-1d', lambda x: np.diag(x), lambda x: onp.diag(x), R(3)),
    ('diag-1d-k', lambda x: np.diag(x, 1), lambda x: onp.diag(x, 1), R(3)),
    ('diag-1d-k-', lambda x: np.diag(x, -2), lambda x: onp.diag(x, -2), R(2)),
    ('diag-2d', lambda x: np.diag(x), lambda x: onp.diag(x), R(2, 3)),
    ('diag-2d-k', lambda x: np.diag(x, 1), lambda x: onp.diag(x, 1), R(2, 3)),
    ('diag-2d-k-', lambda x: np.diag(x, -1), lambda x: onp.diag(x, -1), R(3, 3)),
    ('diagflat', lambda x: np.diagflat(x), lambda x: onp.diagflat(x), R(2, 2)),
    ('diagonal', lambda x: np.diagonal(x), lambda x: onp.diagonal(x), R(3, 3)),
    ('diagonal-3d', lambda x: np.diagonal(x, 1, 0, 2), lambda x: onp.diagonal(x, 1, 0, 2), R(2, 2, 3)),
    ('diagonal-neg', lambda x: np.diagonal(x, -1, axis1=-1, axis2=0),
     lambda x: onp.diagonal(x, -1, axis1=-1, axis2=0), R(2, 3)),
    ('trace', lambda x: np.trace(x), lambda x: onp.trace(x), R(3, 3)),
    ('trace-k', lambda x: np.trace(x, 1), lambda x: onp.trace(x, 1), R(2, 3)),
    ('trace-3d', lambda x: np.trace(x, 0, 1, 2), lambda x: onp.trace(x, 0, 1, 2), R(2, 2, 2)),
    ('trace-method', lambda x: x.trace() if hasattr(x, 'tag') else x.trace(),
     lambda x: x.trace(), R(2, 2)),
    ('take', lambda x: np.take(x, [2, 0, -1, 2]), lambda x: onp.take(x, [2, 0, -1, 2]), R(2, 3)),
    ('take-axis', lambda x: np.take(x, [[1, 0], [1, 1]], axis=1),
     lambda x: onp.take(x, [[1, 0], [1, 1]], axis=1), R(2, 3)),
    ('take-int', lambda x: np.take(x, 1, axis=0), lambda x: onp.take(x, 1, axis=0), R(2, 3)),
    ('take_along_axis', lambda x: np.take_along_axis(x, onp.array([[0, 2, 2], [1, 0, 1]]), 1),
     lambda x: onp.take_along_axis(x, onp.array([[0, 2, 2], [1, 0, 1]]), 1), R(2, 3)),
    ('take_along_axis0', lambda x: np.take_along_axis(x, onp.array([[1, 1, 0]]), 0),
     lambda x: onp.take_along_axis(x, onp.array([[1, 1, 0]]), 0), R(2, 3)),
    ('take_along_axisNone', lambda x: np.take_along_axis(x, onp.array([5, 0, 0]), None),
     lambda x: onp.take_along_axis(x, onp.array([5, 0, 0]), None), R(2, 3)),
    ('sort', lambda x: np.sort(x), lambda x: onp.sort(x), R(2, 3)),
    ('sort0', lambda x: np.sort(x, axis=0), lambda x: onp.sort(x, axis=0), R(2, 3)),
    ('sortNone', lambda x: np.sort(x, axis=None), lambda x: onp.sort(x, axis=None), R(2, 3)),
    ('sort-nonlinear', lambda x: np.sort(x * x), lambda x: onp.sort(x * x), R(4)),
    ('atleast_3d', lambda x: np.atleast_3d(x), lambda x: onp.atleast_3d(x), R(3)),
]


@pytest.mark.parametrize('name,f,nf,x', CASES, ids=[c[0] for c in CASES])
def test_value_and_grads(name, f, nf, x):
    expected = nf(x)
    got = f(x)
    assert onp.shape(got) == onp.shape(expected)
    onp.testing.assert_array_equal(onp.asarray(got), expected)
    check_grads(f, x, order=2)


SPLITS = [
    ('split', lambda x: np.split(x, 3), lambda x: onp.split(x, 3), R(6)),
    ('split-idx', lambda x: np.split(x, [1, 2], axis=1), lambda x: onp.split(x, [1, 2], axis=1), R(2, 3)),
    ('split-odd', lambda x: np.split(x, [-1, 10]), lambda x: onp.split(x, [-1, 10]), R(3)),
    ('split-overlap', lambda x: np.split(x, [2, 1]), lambda x: onp.split(x, [2, 1]), R(4)),
    ('array_split', lambda x: np.array_split(x, 2, axis=1), lambda x: onp.array_split(x, 2, axis=1), R(2, 3)),
    ('hsplit', lambda x: np.hsplit(x, 3), lambda x: onp.hsplit(x, 3), R(2, 3)),
    ('vsplit', lambda x: np.vsplit(x, 2), lambda x: onp.vsplit(x, 2), R(2, 3)),
]


@pytest.mark.parametrize('name,f,nf,x', SPLITS, ids=[s[0] for s in SPLITS])
def test_split(name, f, nf, x):
    got, expected = f(x), nf(x)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        onp.testing.assert_array_equal(g, e)
    # all pieces, as a tuple output, and only some pieces (symbolic zero cotangents)
    check_grads(lambda x: tuple(p * p for p in f(x)), x, order=2)
    check_grads(lambda x: f(x)[-1] * 2.0, x, order=2)


def test_split_unequal_error():
    with pytest.raises(ValueError, match='equal'):
        np.split(onp.ones(5), 2)


def test_pad_traced_constant():
    x = R(2)
    f = lambda p: np.pad(p[:2], 1, constant_values=p[2])
    check_grads(f, onp.array([1.0, 2.0, 3.0]), order=2)
    g = pyad.grad(lambda p: np.sum(f(p)))(onp.array([1.0, 2.0, 3.0]))
    onp.testing.assert_allclose(g, [1.0, 1.0, 2.0])
    del x


def test_sort_gradient_permutes():
    x = onp.array([3.0, 1.0, 2.0])
    g = pyad.grad(lambda x: np.sum(np.sort(x) * onp.array([1.0, 10.0, 100.0])))(x)
    onp.testing.assert_array_equal(g, [100.0, 1.0, 10.0])


def test_repeat_accumulates():
    g = pyad.grad(lambda x: np.sum(np.repeat(x, [3, 1])))(onp.array([1.0, 2.0]))
    onp.testing.assert_array_equal(g, [3.0, 1.0])


def test_array_of_traced_values():
    f = lambda x: np.array([x[0], 2 * x[1], 1.0])
    x = onp.array([1.5, -2.0])
    onp.testing.assert_array_equal(f(x), [1.5, -4.0, 1.0])
    check_grads(f, x, order=2)
    check_grads(lambda x: np.array([[x[0], x[1]], [x[1] * x[0], 0.0]]), x, order=2)
    J = pyad.jacobian(f)(x)
    onp.testing.assert_array_equal(J, [[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    x32 = x.astype(onp.float32)
    assert pyad.grad(lambda x: np.sum(f(x) ** 2))(x32).dtype == onp.float32
    assert pyad.hessian(lambda x: np.sum(f(x) ** 2))(x32).dtype == onp.float32


@pytest.mark.parametrize('name,f,nf,x', [c for c in CASES if onp.ndim(c[3]) > 0],
                         ids=[c[0] for c in CASES if onp.ndim(c[3]) > 0])
def test_float32_kept(name, f, nf, x):
    x32 = onp.asarray(x, dtype=onp.float32)
    loss = lambda x: np.sum(f(x) ** 2)
    assert f(x32).dtype == nf(x32).dtype
    if nf(x32).dtype != onp.float32:
        return      # a float64 constant joins in: NumPy upcasts too
    assert pyad.grad(loss)(x32).dtype == onp.float32
    assert pyad.hessian(loss)(x32).dtype == onp.float32


def test_concatenate_two_traced_inputs():
    f = lambda xy: np.concatenate([xy[0], np.sin(xy[1])], axis=0)
    check_grads(f, (R(2, 3), R(1, 3)), order=2)
    check_grads(lambda xy: np.stack([xy[0], xy[1] * xy[0]], axis=1), (R(3), R(3)), order=2)


def test_errors_name_shapes():
    with pytest.raises(ValueError, match=r'\(2, 3\).*\(3,\)|same shape'):
        np.stack([onp.ones((2, 3)), onp.ones(3)])
    with pytest.raises(ValueError, match='dimensions'):
        pyad.grad(lambda x: np.sum(np.concatenate([x, onp.ones((2, 3))])))(onp.ones(3))
    with pytest.raises(ValueError, match='axis'):
        pyad.grad(lambda x: np.sum(np.concatenate([x, x], axis=2)))(onp.ones((2, 3)))
    with pytest.raises(ValueError, match='pad_width'):
        np.pad(onp.ones(3), ((1, 1), (1, 1), (1, 1)))
    with pytest.raises(ValueError, match='same'):
        np.diagonal(onp.ones((2, 2)), 0, 1, 1)
    with pytest.raises(ValueError, match='repeats'):
        pyad.grad(lambda x: np.sum(np.repeat(x, [1, 2])))(onp.ones(3))


def test_hand_values():
    x = R(3, 3)
    onp.testing.assert_array_equal(pyad.grad(np.trace)(x), onp.eye(3))
    onp.testing.assert_array_equal(pyad.grad(lambda x: np.trace(x, 1))(x), onp.eye(3, k=1))
    onp.testing.assert_array_equal(pyad.grad(lambda x: np.sum(np.tril(x)))(x), onp.tril(onp.ones((3, 3))))
    onp.testing.assert_array_equal(pyad.grad(lambda x: np.sum(np.triu(x, 1)))(x), onp.triu(onp.ones((3, 3)), 1))
    onp.testing.assert_array_equal(pyad.jacobian(lambda v: np.diag(v, -1))(onp.ones(2)).reshape(9, 2),
                                   onp.eye(9)[:, [3, 7]])
    # roll and flip are permutations: their gradient of a weighted sum is the weights moved back
    w = onp.arange(6.0).reshape(2, 3)
    onp.testing.assert_array_equal(pyad.grad(lambda x: np.sum(np.roll(x, 1, axis=1) * w))(w * 0),
                                   onp.roll(w, -1, axis=1))
    onp.testing.assert_array_equal(pyad.grad(lambda x: np.sum(np.flip(x) * w))(w * 0), onp.flip(w))
    # tile and edge padding accumulate
    onp.testing.assert_array_equal(pyad.grad(lambda x: np.sum(np.tile(x, (2, 2))))(onp.ones(3)), [4.0] * 3)
    onp.testing.assert_array_equal(pyad.grad(lambda x: np.sum(np.pad(x, 2, mode='edge')))(onp.ones(3)),
                                   [3.0, 1.0, 3.0])


def test_plain_calls_equal_numpy():
    x = R(2, 3)
    for f, nf in [(np.concatenate, onp.concatenate), (np.stack, onp.stack), (np.hstack, onp.hstack),
                  (np.vstack, onp.vstack), (np.column_stack, onp.column_stack)]:
        onp.testing.assert_array_equal(f([x, 2 * x]), nf([x, 2 * x]))
    for f, nf in [(np.flip, onp.flip), (np.sort, onp.sort), (np.triu, onp.triu), (np.tril, onp.tril),
                  (np.diagonal, onp.diagonal), (np.trace, onp.trace), (np.diag, onp.diag)]:
        onp.testing.assert_array_equal(f(x), nf(x))
    assert np.stack([x.astype(onp.float32)] * 2).dtype == onp.float32


def test_error_messages_name_the_function():
    x = onp.ones((2, 3))
    cases = [(lambda x: np.concatenate([x, x], axis=2), 'concatenate'),
             (lambda x: np.stack([x, x], axis=3), 'stack'),
             (lambda x: np.flip(x, 2), 'flip'),
             (lambda x: np.roll(x, 1, axis=5), 'roll'),
             (lambda x: np.sort(x, axis=2), 'sort'),
             (lambda x: np.take(x, [0], axis=2), 'take'),
             (lambda x: np.take(x, [7]), 'take'),
             (lambda x: np.diagonal(x, 0, 0, 2), 'diagonal'),
             (lambda x: np.repeat(x, 2, axis=-3), 'repeat'),
             (lambda x: np.split(x, 2, axis=1), 'split'),
             (lambda x: np.pad(x, ((1, 2, 3),)), 'pad'),
             (lambda x: np.take_along_axis(x, onp.zeros(2, int), 1), 'take_along_axis'),
             (lambda x: np.diag(x[None]), 'diag')]
    for f, name in cases:
        with pytest.raises((ValueError, IndexError), match=name):
            pyad.grad(lambda x: np.sum(f(x)))(x)

"""Pytrees: registered node types, dataclasses and namedtuples as nodes of what is
differentiated, with JAX's tree_util names; ravel_pytree."""
import collections
import dataclasses

import numpy as onp
import pytest

import pyad
import pyad.numpy as np
from pyad.tree_util import (register_pytree_node, register_pytree_node_class, tree_flatten,
                            tree_unflatten, tree_map, tree_leaves, tree_structure)
from pyad.flatten_util import ravel_pytree
from pyad.testing import check_grads


class Affine:
    def __init__(self, weight, bias, name='layer'):
        self.weight, self.bias, self.name = weight, bias, name


register_pytree_node(Affine, lambda a: ((a.weight, a.bias), a.name),
                     lambda name, children: Affine(*children, name=name))


@dataclasses.dataclass
class Params:
    w: object
    b: object


@dataclasses.dataclass(frozen=True)
class Frozen:
    scale: object
    extra: object = None


Point = collections.namedtuple('Point', 'x y')


@register_pytree_node_class
class Pair:
    def __init__(self, first, second):
        self.first, self.second = first, second

    def tree_flatten(self):
        return (self.first, self.second), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


W = onp.array([[0.5, -1.0], [2.0, 0.3]])
B = onp.array([0.1, -0.2])
X = onp.array([1.0, 2.0])


def test_round_trips_keep_types_and_static_data():
    a = Affine(W, B, name='first')
    leaves, treedef = tree_flatten(a)
    assert len(leaves) == 2 and leaves[0] is W
    back = tree_unflatten(treedef, leaves)
    assert type(back) is Affine and back.name == 'first'
    frozen = tree_unflatten(*reversed(tree_flatten(Frozen(2.0)))) if False else None
    leaves, treedef = tree_flatten(Frozen(2.0, (1.0, 3.0)))
    assert leaves == [2.0, 1.0, 3.0]
    back = tree_unflatten(treedef, [x * 2 for x in leaves])
    assert back == Frozen(4.0, (2.0, 6.0)) and frozen is None
    assert tree_leaves(Pair(1.0, Point(2.0, 3.0))) == [1.0, 2.0, 3.0]
    # the static data is part of the structure
    assert tree_structure(Affine(W, B, 'a')) != tree_structure(Affine(W, B, 'b'))
    assert tree_structure(Affine(W, B, 'a')) == tree_structure(Affine(B, W, 'a'))
    assert 'Affine' in repr(tree_structure(Affine(W, B)))
    doubled = tree_map(lambda x: 2 * x, Params(W, {'b': B}))
    assert isinstance(doubled, Params)
    onp.testing.assert_allclose(doubled.b['b'], 2 * B)


def test_registration_errors():
    with pytest.raises(ValueError, match='already a pytree node'):
        register_pytree_node(Affine, lambda a: ((), None), lambda aux, c: None)
    with pytest.raises(TypeError, match='expected a type'):
        register_pytree_node(Affine(1.0, 2.0), lambda a: ((), None), lambda aux, c: None)
    with pytest.raises(ValueError, match='has 2 leaves, but 3 were given'):
        tree_unflatten(tree_structure((1.0, 2.0)), [1.0, 2.0, 3.0])


def loss_affine(layer, x):
    return np.sum(np.tanh(layer.weight @ x + layer.bias) ** 2)


def loss_plain(w, b, x):
    return np.sum(np.tanh(w @ x + b) ** 2)


@pytest.mark.parametrize('make', [lambda w, b: Affine(w, b), lambda w, b: Params(w, b),
                                  lambda w, b: Point(w, b), lambda w, b: Pair(w, b)],
                         ids=['registered', 'dataclass', 'namedtuple', 'registered class'])
def test_gradients_come_back_in_the_node_type(make):
    tree = make(W, B)
    first, second = tree_leaves(tree)
    g = pyad.grad(lambda t, x: np.sum(np.tanh(tree_leaves(t)[0] @ x + tree_leaves(t)[1]) ** 2))(
        tree, X)
    assert type(g) is type(tree)
    gw, gb = pyad.grad(loss_plain, argnums=(0, 1))(W, B, X)
    onp.testing.assert_allclose(tree_leaves(g)[0], gw)
    onp.testing.assert_allclose(tree_leaves(g)[1], gb)


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64])
def test_dataclass_and_registered_nodes_to_second_order(dtype):
    layer = Affine(W.astype(dtype), B.astype(dtype))
    check_grads(lambda layer: loss_affine(layer, X.astype(dtype)), layer)
    check_grads(lambda p: np.sin(p.w) * p.b, Params(X.astype(dtype), B.astype(dtype)))
    H = pyad.hessian(lambda p: np.sum(p.w ** 3 * p.b))(Params(X, B))
    assert type(H) is Params and type(H.w) is Params
    onp.testing.assert_allclose(H.w.w, onp.diag(6 * X * B))
    onp.testing.assert_allclose(H.w.b, onp.diag(3 * X ** 2))


def test_integer_leaf_of_a_dataclass_named_in_the_error():
    @dataclasses.dataclass
    class Config:
        w: object
        layers: int

    with pytest.raises(TypeError, match=r'grad: the input at \.layers is an integer \(int\)'):
        pyad.grad(lambda c: np.sum(c.w) * c.layers)(Config(X, 3))
    # passed outside argnums, it is a constant
    g = pyad.grad(lambda w, c: np.sum(w) * c.layers)(X, Config(X, 3))
    onp.testing.assert_allclose(g, [3.0, 3.0])


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64])
def test_ravel_pytree(dtype):
    tree = {'w': W.astype(dtype), 'b': (B.astype(dtype), dtype(0.5))}
    flat, unravel = ravel_pytree(tree)
    assert flat.shape == (7,) and flat.dtype == dtype
    onp.testing.assert_allclose(flat, onp.concatenate([B, [0.5], W.ravel()]).astype(dtype))
    back = unravel(flat)
    assert back['w'].dtype == dtype and back['w'].shape == (2, 2)
    onp.testing.assert_allclose(back['w'], W.astype(dtype))
    # differentiable both ways
    # (unravel computes in the leaves' dtype: float32 finite differences need a wider step)
    eps = 1e-3 if dtype == onp.float32 else 1e-6
    check_grads(lambda t: np.sin(ravel_pytree(t)[0]), tree, eps=eps)
    check_grads(lambda v: np.sum(unravel(v)['w'] ** 2) * unravel(v)['b'][1], flat, eps=eps)
    with pytest.raises(ValueError, match=r'expected a vector of shape \(7,\)'):
        unravel(onp.zeros(6))


def test_ravel_pytree_mixed_dtypes_and_empty():
    flat, unravel = ravel_pytree((onp.ones(2, onp.float32), onp.ones(1)))
    assert flat.dtype == onp.float64
    back = unravel(flat)
    assert back[0].dtype == onp.float32 and back[1].dtype == onp.float64
    flat, unravel = ravel_pytree({})
    assert flat.shape == (0,) and unravel(flat) == {}

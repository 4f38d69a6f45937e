"""Traits: declared once, checked when a primitive is made, and a false one caught
by the check the documentation prescribes (pyad.testing.check_grads), which names
the primitive.  Each test below plants one false trait."""
import numpy as np
import pytest

import pyad
import pyad.numpy as pnp
from pyad import Primitive, Traits
from pyad.testing import check_grads, reference, TraitError

X = np.array([0.3, -0.8, 1.1, 0.5])


# ------------------------------------------------------------ at definition
@pytest.mark.parametrize('traits, message', [
    (Traits(reads='answer'), "reads='answer' is not one of"),
    (Traits(fresh='yes'), 'fresh=.yes. must be True or False'),
    (Traits(partials=3.0), 'partials must be a function'),
    (Traits(defer=lambda p, k: None), 'defer needs VJP rules that do not read the answer'),
    (Traits(reads='ans', defer=lambda p, k: None), 'defer needs'),
])
def test_a_bad_trait_is_refused_when_the_primitive_is_made(traits, message):
    with pytest.raises(TraitError, match=message) as err:
        Primitive('mine', lambda x: x, traits=traits)
    assert "'mine'" in str(err.value)


def test_traits_must_be_traits_and_fit_the_primitive():
    with pytest.raises(TypeError, match="'mine'.*pyad.Traits"):
        Primitive('mine', lambda x: x, traits={'reads': 'ans'})
    with pytest.raises(TraitError, match='several results'):
        Primitive('mine', lambda x: (x, x), multiple_results=True,
                  traits=Traits(partials=lambda *a: None))
    with pytest.raises(TraitError, match='non-differentiable'):
        Primitive('mine', lambda x: x, nondiff=True, traits=Traits(fresh=True))


def test_traits_are_readable():
    assert pnp.multiply.traits.reads == 'other'
    assert 'fresh=True' in repr(pnp.multiply.traits)
    assert Traits(reads='ans').but(fresh=True) == Traits(reads='ans', fresh=True)


# ------------------------------------------------------------ planted false traits
def _elementwise(name, impl, rule, traits):
    prim = Primitive(name, impl, traits=traits)
    prim.def_jvp(lambda t, ans, x: rule(t, x))
    prim.def_vjp(lambda g, ans, x: rule(g, x))
    return prim


def test_a_false_reads_is_caught_and_named():
    # its rule reads x, but it says it reads only its answer: x (the answer of a
    # product, which the tape need not keep) is left off the tape
    sq = _elementwise('false_reads', lambda x: x * x, lambda c, x: 2.0 * c * x,
                      Traits(reads='ans'))
    f = lambda x: pnp.sum(sq(x * 2.0))          # noqa: E731
    with pytest.raises(TraitError, match="'false_reads' declares reads='ans'"):
        check_grads(f, X)


def test_a_false_fresh_is_caught_and_named():
    # a function with a zero derivative whose rule hands back an array of zeros it
    # keeps: declared fresh, the sweep sums the other contributions into it
    zeros = np.zeros(4)
    flat = _elementwise('false_fresh', lambda x: np.floor(x), lambda c, x: zeros,
                        Traits(fresh=True))
    f = lambda x: pnp.sin(x) + flat(x)       # noqa: E731
    u = np.ones(4)
    pyad.vjp(f, X)[1](u)
    second = pyad.vjp(f, X)[1](u)            # silently wrong: its buffer was written into
    assert not np.allclose(second, np.cos(X))
    zeros[:] = 0.0
    with pytest.raises(TraitError, match="'false_fresh' declares fresh=True"):
        check_grads(f, X, order=1)


def test_false_partials_are_caught_and_named():
    # 2 x, with partial derivative said to be 3
    twice = _elementwise('false_partials', lambda x: 2.0 * x, lambda c, x: 2.0 * c,
                         Traits(reads='shapes', partials=lambda ans, p, params, i: (3.0, None)))
    f = lambda x: pnp.sin(twice(x))          # noqa: E731
    with reference():
        np.testing.assert_allclose(pyad.jacfwd(f)(X), np.diag(2.0 * np.cos(2.0 * X)))
    with pytest.raises(TraitError, match="'false_partials': its traits .*partials"):
        check_grads(f, X, order=1)


def test_a_false_defer_is_caught_and_named():
    # the answer's shape and dtype said without computing it: wrongly (float32)
    def defer(primals, params):
        return pnp.shape(primals[0]), np.dtype(np.float32)
    twice = _elementwise('false_defer', lambda x: 2.0 * x, lambda c, x: 2.0 * c,
                         Traits(reads='shapes', defer=defer))
    f = lambda x: pnp.sum(twice(x) * x)      # noqa: E731
    with pytest.raises(TraitError, match="'false_defer': its defer trait said .*float32"):
        check_grads(f, X, order=1)


def test_a_false_add_into_is_caught_and_named():
    # x[idx] whose add_into forgets the factor k it is given
    from pyad.numpy.indexing import _getitem_impl, take_batched, scatter_add
    from pyad._core.box import ndim_of, shape_of

    def add_into(buf, g, ans, primals, params, k=1.0):
        x, idx = primals
        if buf is None:
            buf = np.zeros(np.shape(x))
        buf[idx] += g
        return buf
    take = Primitive('false_add_into', _getitem_impl, traits=Traits(add_into=add_into))
    take.def_jvp(lambda t, ans, x, idx: take_batched(t, idx, ndim_of(t) - ndim_of(x)))
    take.def_vjp(lambda g, ans, x, idx: scatter_add(g, idx, tuple(shape_of(x)), ndim_of(ans)))
    f = lambda x: pnp.sum(take(-x, (slice(1, 3),)) * 3.0)      # noqa: E731
    with pytest.raises(TraitError, match="'false_add_into'"):
        check_grads(f, X, order=1)


def test_true_traits_pass_the_same_checks():
    # the library's own primitives, every fast path taken, at first and second order
    f = lambda x: pnp.sum(pnp.exp(-x[1:]) * (x[:-1] - x[1:]) ** 2 * 3.0) - pnp.tanh(x) / 2.0  # noqa: E731
    check_grads(f, X, order=2)
    check_grads(f, X.astype(np.float32), order=2)

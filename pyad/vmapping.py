"""``vmap``: a function of one example, turned into a function of a batch.

``vmap(f, in_axes=0, out_axes=0)(*args)`` maps f over an axis of its arguments
without a Python loop: each primitive runs once for the whole batch (see
_core/batching.py and vmap_rules.py).  It nests with every operator in both
orders (``vmap(grad(f))``: per-example gradients; ``grad(vmap(f))``;
``vmap(vmap(f))``), and a function that closes over a value an outer operator
is differentiating gets that derivative right.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Optional

from ._core.batching import BatchTag
from ._core.box import Box, BatchBox, lift_dead, shape_of, ndim_of
from ._core.pytree import tree_flatten, tree_unflatten
from .numpy.manipulation import moveaxis, broadcast_to
from . import vmap_rules  # noqa: F401  (registers the batching rules)


def vmap(f: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0,
         axis_size: Optional[int] = None) -> Callable[..., Any]:
    """Vectorise ``f`` over an axis of its arguments.

    ``in_axes``: an int (the axis of every argument to map over), None (not
    mapped: the same value for every example), or a tuple with one entry per
    positional argument, each an int, None, or a pytree of them matching that
    argument (a prefix of its structure).  ``out_axes``: where the batch axis goes
    in each output (an int, None for an output that does not depend on the
    example, or a pytree prefix of the output).  ``axis_size``: the batch size,
    needed only when no argument is mapped.  Keyword arguments are mapped over
    their axis 0 (as in JAX).  Nests with every operator, in both orders.

        >>> import numpy as np, pyad, pyad.numpy as pnp
        >>> loss = lambda w, x: pnp.sum(pnp.tanh(x @ w) ** 2)
        >>> per_example = pyad.vmap(pyad.grad(loss), in_axes=(None, 0))
        >>> per_example(np.ones((3, 2)), np.ones((5, 3))).shape    # 5 gradients
        (5, 3, 2)
    """
    if not callable(f):
        raise TypeError(f'vmap: f must be a function, got {type(f).__name__}')
    _check_axes_spec(in_axes, 'in_axes')
    _check_axes_spec(out_axes, 'out_axes')
    if axis_size is not None and (not isinstance(axis_size, numbers.Integral) or axis_size < 0):
        raise ValueError(f'vmap: axis_size must be a non-negative int, got {axis_size!r}')

    def batched(*args, **kwargs):
        leaves, treedef, axes, names = _input_axes(args, kwargs, in_axes)
        size = _batch_size(leaves, axes, names, axis_size)
        with BatchTag(size) as tag:
            boxed = [x if a is None else BatchBox(moveaxis(x, a, 0) if a else x, tag)
                     for x, a in zip(leaves, axes)]
            args, kwargs = tree_unflatten(treedef, boxed)
            return _outputs(f(*args, **kwargs), out_axes, tag, size)

    batched.__name__ = f'vmap({getattr(f, "__name__", "f")})'
    batched.__doc__ = getattr(f, '__doc__', None)
    return batched


def _check_axes_spec(spec, what):
    for leaf in _spec_leaves(spec):
        if leaf is not None and (isinstance(leaf, bool) or not isinstance(leaf, numbers.Integral)):
            raise TypeError(f'vmap: {what} entries must be ints or None, got {leaf!r}')


def _spec_leaves(spec):
    if isinstance(spec, (tuple, list)):
        return [l for s in spec for l in _spec_leaves(s)]
    if isinstance(spec, dict):
        return [l for k in spec for l in _spec_leaves(spec[k])]
    return [spec]


def _broadcast_spec(spec, tree, where):
    """One axis per leaf of ``tree``, from ``spec``, a prefix of its structure."""
    if spec is None or isinstance(spec, numbers.Integral):
        return [spec] * len(tree_flatten(tree)[0])
    if isinstance(spec, (tuple, list)) and isinstance(tree, (tuple, list)) \
            and len(spec) == len(tree):
        return [a for s, t in zip(spec, tree) for a in _broadcast_spec(s, t, where)]
    if isinstance(spec, dict) and isinstance(tree, dict) and set(spec) == set(tree):
        return [a for k in sorted(tree) for a in _broadcast_spec(spec[k], tree[k], where)]
    raise ValueError(f'vmap: {where} is {spec!r}, which does not match the structure of the '
                     f'value ({_describe(tree)}); give an int, None, or a tuple/list/dict '
                     f'of them shaped like the value')


def _describe(tree):
    if isinstance(tree, (tuple, list)):
        return f'a {type(tree).__name__} of length {len(tree)}'
    if isinstance(tree, dict):
        return f'a dict with keys {sorted(tree)}'
    return type(tree).__name__


def _input_axes(args, kwargs, in_axes):
    """(leaves, treedef, axis per leaf, name per leaf) of the arguments (keyword
    arguments are mapped over their axis 0, as in JAX)."""
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if isinstance(in_axes, tuple) and len(in_axes) != len(args):
        raise ValueError(f'vmap: in_axes has {len(in_axes)} entries but the function was '
                         f'called with {len(args)} positional arguments')
    spec = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
    leaves, treedef = tree_flatten((tuple(args), kwargs))
    axes, names = [], []
    for i, (s, arg) in enumerate(zip(spec, args)):
        axes.extend(_broadcast_spec(s, arg, f'in_axes for argument {i}'))
        names.extend(_leaf_names(f'argument {i}', arg))
    for key in sorted(kwargs):
        axes.extend(_broadcast_spec(0, kwargs[key], f'keyword argument {key!r}'))
        names.extend(_leaf_names(f'keyword argument {key!r}', kwargs[key]))
    axes = [_input_axis(l, a, n) for l, a, n in zip(leaves, axes, names)]
    return leaves, treedef, axes, names


def _leaf_names(what, arg):
    n = len(tree_flatten(arg)[0])
    return [what] if n == 1 else [f'{what} (leaf {j})' for j in range(n)]


def _input_axis(leaf, axis, name):
    if axis is None:
        return None
    if not (isinstance(leaf, Box) or hasattr(leaf, 'shape')):
        raise ValueError(f'vmap: {name} is a {type(leaf).__name__}, which has no axis {axis} '
                         f'to map over; give it in_axes None, or pass an array')
    n = ndim_of(leaf)
    if not -n <= axis < n:
        raise ValueError(f'vmap: in_axes {axis} is out of range for {name}, of shape '
                         f'{tuple(shape_of(leaf))}')
    return axis % n


def _batch_size(leaves, axes, names, axis_size):
    sizes = [(name, shape_of(l)[a], a, tuple(shape_of(l))) for l, a, name in
             zip(leaves, axes, names) if a is not None]
    if not sizes:
        if axis_size is None:
            raise ValueError('vmap: no input is mapped (in_axes are all None); pass axis_size '
                             'to say how many times to call the function')
        return int(axis_size)
    found = {s for _, s, _, _ in sizes}
    if axis_size is not None:
        found.add(int(axis_size))
    if len(found) > 1:
        which = ', '.join(f'{name} of shape {shape} has size {s} at axis {a}'
                          for name, s, a, shape in sizes)
        extra = f' and axis_size is {axis_size}' if axis_size is not None else ''
        raise ValueError(f'vmap: the mapped axes have different sizes: {which}{extra}')
    return sizes[0][1]


def _outputs(out, out_axes, tag, size):
    if out is None:
        raise TypeError('vmap: the function returned None (is a return statement missing?)')
    leaves, treedef = tree_flatten(out)
    axes = _broadcast_spec(out_axes, out, 'out_axes')
    result = []
    for j, (y, axis) in enumerate(zip(leaves, axes)):
        y = lift_dead(y)
        if type(y) is BatchBox and y.tag is tag:
            if axis is None:
                raise ValueError(f'vmap: out_axes is None for output {j}, but it differs '
                                 f'between examples')
            value = y.primal
        elif axis is None:
            result.append(y)
            continue
        else:
            value = _broadcast_batch(y, size)
        n = ndim_of(value)
        if not -n <= axis < n:
            raise ValueError(f'vmap: out_axes {axis} is out of range for output {j}, of '
                             f'{n - 1} dimensions per example')
        result.append(moveaxis(value, 0, axis % n) if axis % n else value)
    return tree_unflatten(treedef, result)


def _broadcast_batch(y, size):
    """An output that is the same for every example, repeated ``size`` times."""
    if not isinstance(y, Box) and not hasattr(y, 'shape'):
        if not isinstance(y, numbers.Number):
            raise TypeError(f'vmap: the function returned a {type(y).__name__}, which is '
                            f'not a number, an array, or a tuple/list/dict of them')
        import numpy
        y = numpy.asarray(y)
    return broadcast_to(y, (size,) + tuple(shape_of(y)))

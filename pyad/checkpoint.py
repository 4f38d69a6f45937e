"""``checkpoint(f)`` (alias ``remat``): rematerialisation in reverse mode.

Under a reverse-mode operator, a checkpointed call runs f *without* recording its
intermediate values on the tape: it puts one record there, which keeps only f's
arguments and outputs.  When the sweep reaches that record it runs f again, on
a tape of its own, sweeps that, and lets it go.  A loop of n steps checkpointed
every √n steps so keeps about 2√n states at its peak instead of n, for about
one more evaluation of f.

Checkpointed segments nest: a checkpointed function called inside another is
checkpointed again when the outer one is recomputed.  In forward mode, or with
no reverse-mode operator running, the call is simply ``f(*args)``: there is
nothing to keep.  The level handled is the innermost one (the newest reverse tag
among the arguments); values f closes over that are differentiated at that level
must be passed as arguments instead (pyad raises ClosureError otherwise, rather
than drop their derivative).
"""
import functools
from typing import Any, Callable

from ._core.pytree import tree_flatten, tree_unflatten
from ._core.transforms import pull_back
from .custom import newest_tag, peel, traced_at, closed, output_leaves, list_def

__all__ = ['checkpoint', 'remat']


def checkpoint(f: Callable[..., Any]) -> Callable[..., Any]:
    """``checkpoint(f)``: f, whose intermediate values reverse mode recomputes in the
    sweep instead of keeping them on the tape.  Arguments may be pytrees; keyword
    arguments are passed through (differentiated too, if traced).

    >>> import pyad, pyad.numpy as np
    >>> step = pyad.checkpoint(lambda x: np.sin(x) * 2.0)
    >>> round(float(pyad.grad(lambda x: step(step(x)))(0.5)), 6)
    2.016547

    Returns the checkpointed function (JAX's ``jax.checkpoint``, without policies)."""
    if not callable(f):
        raise TypeError(f'checkpoint decorates a function, got {type(f).__name__}')

    @functools.wraps(f)
    def checkpointed(*args, **kwargs):
        leaves, treedef = tree_flatten((args, kwargs))
        tag = newest_tag(leaves)
        if tag is None or tag.mode != 'reverse':
            return f(*args, **kwargs)
        return _record(f, tag, leaves, treedef)
    return checkpointed


remat = checkpoint


def _record(f, tag, leaves, treedef):
    name = f'checkpoint of {getattr(f, "__name__", "f")}'
    traced = [i for i, leaf in enumerate(leaves) if traced_at(leaf, tag)]
    primals = [peel(leaf, tag) for leaf in leaves]
    args, kwargs = tree_unflatten(treedef, primals)
    with closed(tag, name):
        out = f(*args, **kwargs)
    out_leaves, out_def = output_leaves(out, name)
    if not traced or not out_leaves:
        return out

    def segment(xs):
        full = list(primals)
        for i, x in zip(traced, xs):
            full[i] = x
        args_, kwargs_ = tree_unflatten(treedef, full)
        again = f(*args_, **kwargs_)
        if tree_flatten(again)[1] != out_def:
            raise ValueError(f'{name}: the function returned a different structure when '
                             f'recomputed; a checkpointed function must be deterministic')
        return again

    def vjp(cotangents):
        xs = [primals[i] for i in traced]
        _, _, pullback = pull_back(segment, xs, list_def(len(xs)), name)
        return pullback(list(cotangents), last=True)

    variables = tag.tape.custom(tag, [leaves[i] for i in traced], out_leaves, vjp, 'checkpoint')
    return tree_unflatten(out_def, variables)

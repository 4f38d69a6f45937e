"""``checkpoint(f, policy=...)`` (alias ``remat``): rematerialisation in reverse mode.

Under a reverse-mode operator, a checkpointed call runs f *without* recording its
intermediate values on the tape: it puts one record there, which keeps only f's
arguments and outputs.  When the sweep reaches that record it runs f again, on
a tape of its own, sweeps that, and lets it go.  A loop of n steps checkpointed
every √n steps so keeps about 2√n states at its peak instead of n, for about
one more evaluation of f.

Levels.  The record goes on the tape of the newest reverse tag among the
arguments.  f itself then runs one level down, on the arguments peeled of that
tag, and is checkpointed again there if that level is a reverse one too; and
the record's VJP (recompute and sweep) is itself a checkpointed function of the
arguments and cotangents one level down.  So under ``grad(grad(...))`` or
``jacrev(grad(...))`` the outer tape too keeps only the segments' inputs and
outputs.  Values f closes over that are differentiated at the innermost level
must be passed as arguments (pyad raises ClosureError rather than drop their
derivative); where f closes over a value differentiated at an outer level, that
level records f as it runs instead (right, without the saving).  At a forward level
with a reverse level beneath (reverse over forward: ``hessianv``), the tangents are
pushed through f by a function of primals and tangents that is checkpointed one
level down.  In forward mode alone, or with no reverse-mode operator running, the
call is simply ``f(*args)``.

Policies (JAX's names).  ``nothing_saveable`` (the default) saves nothing;
``everything_saveable`` saves everything (the call is ``f(*args)``: no
checkpoint); ``dots_saveable`` saves the results of the products (the primitives
``matmul`` and ``einsum``: ``@``, ``dot``, ``tensordot``, ``inner``, ``vdot``,
``einsum``, ...); ``save_only_these_primitives(*names)`` those of the named
primitives.  A saved result is kept with the record, keyed by the primitive, its
parameters and a digest of its operands' bytes, and the recomputation takes it
instead of computing it again when the same primitive meets the same operands:
its derivatives (which the primitive's rules compute from the operands) are
unchanged, and a recomputation that differs cannot pick up a wrong value.
"""
import functools
import hashlib
import threading
from typing import Any, Callable, FrozenSet, Iterable, Optional, TypeVar

from ._core.primitive import all_primitives
from ._core.box import Box, Dual, lift_dead
from ._core.pytree import tree_flatten, tree_unflatten
from ._core.transforms import pull_back, push_forward
from .backend import to_numpy
from .custom import (newest_tag, peel, traced_at, closed, output_leaves, list_def, ClosureError,
                     _check_level)

__all__ = ['checkpoint', 'remat', 'checkpoint_policies', 'Policy']

F = TypeVar('F', bound=Callable[..., Any])


class Policy:
    """What a checkpointed function keeps from its first run: nothing, everything
    (no checkpoint), or the results of some primitives (by name)."""

    def __init__(self, name: str, saves: Iterable[str] = (), everything: bool = False) -> None:
        self.name = name
        self.saves: FrozenSet[str] = frozenset(saves)
        self.everything = everything

    def __repr__(self) -> str:
        return f'checkpoint_policies.{self.name}'


def _primitive_names():
    return {p.name for p in all_primitives()}


def save_only_these_primitives(*names: str) -> Policy:
    """A policy saving the results of the primitives named (``'matmul'``,
    ``'einsum'``, ``'solve'``, ``'cholesky'``, ...: ``Primitive.name``)."""
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f'save_only_these_primitives takes primitive names (str), '
                            f'got {type(n).__name__}')
    unknown = sorted(set(names) - _primitive_names())
    if unknown:
        raise ValueError(f'save_only_these_primitives: no pyad primitive is named '
                         f'{", ".join(map(repr, unknown))}; the products are '
                         f'{", ".join(map(repr, sorted(DOTS)))}')
    return Policy(f'save_only_these_primitives{tuple(names)!r}', names)


DOTS = frozenset({'matmul', 'einsum'})


class checkpoint_policies:
    """The policies of ``pyad.checkpoint(f, policy=...)``, with JAX's names."""
    nothing_saveable = Policy('nothing_saveable')
    everything_saveable = Policy('everything_saveable', everything=True)
    dots_saveable = Policy('dots_saveable', DOTS)
    checkpoint_dots = dots_saveable
    save_only_these_primitives = staticmethod(save_only_these_primitives)


def checkpoint(f: F, *, policy: Optional[Policy] = None) -> F:
    """``checkpoint(f)``: f, whose intermediate values reverse mode recomputes in the
    sweep instead of keeping them on the tape.  Arguments may be pytrees; keyword
    arguments are passed through (differentiated too, if traced).  ``policy`` (a
    ``pyad.checkpoint_policies`` entry) says which intermediate values are kept
    anyway: none by default; ``dots_saveable`` keeps the matrix products.

    >>> import pyad, pyad.numpy as np
    >>> step = pyad.checkpoint(lambda x: np.sin(x) * 2.0)
    >>> round(float(pyad.grad(lambda x: step(step(x)))(0.5)), 6)
    2.016547

    Returns the checkpointed function (JAX's ``jax.checkpoint``)."""
    if not callable(f):
        raise TypeError(f'checkpoint decorates a function, got {type(f).__name__}')
    if policy is None:
        policy = checkpoint_policies.nothing_saveable
    if not isinstance(policy, Policy):
        raise TypeError(f'checkpoint: policy must be one of pyad.checkpoint_policies '
                        f'(nothing_saveable, everything_saveable, dots_saveable, '
                        f'save_only_these_primitives(...)), got {type(policy).__name__}')
    if policy.everything:
        return f

    @functools.wraps(f)
    def checkpointed(*args, **kwargs):
        leaves, treedef = tree_flatten((args, kwargs))
        tag = newest_tag(leaves)
        if tag is None or tag.mode not in ('reverse', 'forward') or (
                tag.mode == 'forward' and not _taped_below(leaves)):
            return f(*args, **kwargs)
        saved = _Saved(policy.saves) if policy.saves else None
        return _level(f, saved, tag, leaves, treedef)
    return checkpointed


remat = checkpoint


def _call(f, saved, args, kwargs):
    leaves, treedef = tree_flatten((args, kwargs))
    tag = newest_tag(leaves)
    if tag is None or tag.mode not in ('reverse', 'forward'):
        if saved is not None and saved.capturing:
            return _captured(f, saved, leaves, treedef)
        return f(*args, **kwargs)
    return _level(f, saved, tag, leaves, treedef)


def _level(f, saved, tag, leaves, treedef):
    if tag.mode == 'reverse':
        return _record(f, saved, tag, leaves, treedef)
    try:
        return _pushed(f, saved, tag, leaves, treedef)
    except ClosureError:        # f closes over a value differentiated at this forward level
        args, kwargs = tree_unflatten(treedef, leaves)
        return f(*args, **kwargs)


def _taped_below(leaves):
    """Whether a reverse level lies under the values (a tape that could keep f's
    values: reverse over forward, as in hessianv)."""
    todo = list(leaves)
    while todo:
        y = lift_dead(todo.pop())
        if isinstance(y, Box):
            if y.tag.mode == 'reverse':
                return True
            todo.append(y.primal)
            todo.append(getattr(y, 'tangent', None))
    return False


def _pushed(f, saved, tag, leaves, treedef):
    """f at a forward level: its tangents pushed by a function of the primals and
    tangents one level down, checkpointed there, and the results wrapped at this level."""
    name = f'checkpoint of {getattr(f, "__name__", "f")}'
    lifted = [lift_dead(leaf) for leaf in leaves]
    primals = [peel(leaf, tag) for leaf in leaves]
    moving = [i for i, y in enumerate(lifted) if type(y) is Dual and y.tag is tag]
    structure = []

    def push(primals, tangents):
        full = [None] * len(primals)
        for i, t in zip(moving, tangents):
            full[i] = t
        out, out_def, touts = push_forward(lambda tree: f(*tree[0], **tree[1]), primals,
                                           treedef, full, name)
        _check_level(out + touts, tag, name)
        structure[:] = [out_def]
        return out, touts

    out, touts = _below(push, saved, (primals, [lifted[i].tangent for i in moving]), {})
    leaves_out = [y if t is None else Dual(y, t, tag) for y, t in zip(out, touts)]
    return tree_unflatten(structure[0], leaves_out)


def _below(f, saved, args, kwargs):
    """f one level down: checkpointed again at a reverse level, unless f closes over
    a value differentiated there (then it is recorded as it runs)."""
    try:
        return _call(f, saved, args, kwargs)
    except ClosureError:
        return f(*args, **kwargs)


def _record(f, saved, tag, leaves, treedef):
    name = f'checkpoint of {getattr(f, "__name__", "f")}'
    traced = [i for i, leaf in enumerate(leaves) if traced_at(leaf, tag)]
    primals = [peel(leaf, tag) for leaf in leaves]
    args, kwargs = tree_unflatten(treedef, primals)
    with closed(tag, name), _using(saved, capture=saved is not None and saved.capturing):
        out = _below(f, saved, args, kwargs)
    if saved is not None:
        saved.capturing = False
    out_leaves, out_def = output_leaves(out, name)
    if not traced or not out_leaves:
        return out

    def segment(xs, rest):
        full = list(rest)
        for i, x in zip(traced, xs):
            full[i] = x
        args_, kwargs_ = tree_unflatten(treedef, full)
        with _using(saved, capture=False):
            again = f(*args_, **kwargs_)
        if tree_flatten(again)[1] != out_def:
            raise ValueError(f'{name}: the function returned a different structure when '
                             f'recomputed; a checkpointed function must be deterministic')
        return again

    def recompute_and_sweep(rest, cotangents):
        xs = [rest[i] for i in traced]
        _, _, pullback = pull_back(lambda xs: segment(xs, rest), xs, list_def(len(xs)), name)
        return pullback(list(cotangents), last=True)

    def vjp(cotangents):
        return _below(recompute_and_sweep, saved, (primals, list(cotangents)), {})

    variables = tag.tape.custom(tag, [leaves[i] for i in traced], out_leaves, vjp, 'checkpoint')
    return tree_unflatten(out_def, variables)


# ------------------------------------------------- the results a policy saves
class _Saved:
    """The results of the primitives a policy names, from f's first run, keyed by
    the primitive, its parameters and a digest of its operands."""

    def __init__(self, names):
        self.names = names
        self.values = {}
        self.capturing = True       # until the first run at the innermost level is over

    def compute(self, prim, impl, args, params, capture):
        key = (prim, _digest(args), _digest(sorted(params.items())))
        try:
            return self.values[key]
        except KeyError:
            pass
        ans = impl(*args, **params)
        if capture:
            if hasattr(ans, 'flags'):
                ans.flags.writeable = False      # shared by every recomputation
            self.values[key] = ans
        return ans


def _captured(f, saved, leaves, treedef):
    """f run plainly, but with every operation going through pyad's primitives (on a
    tape thrown away at once), so that the results the policy names are saved even
    where f applies NumPy's operators to plain arrays (``x @ w``)."""
    def run(tree):
        args, kwargs = tree
        return f(*args, **kwargs)
    with _using(saved, capture=True):
        out, out_def, _ = pull_back(run, leaves, treedef, 'checkpoint')
    saved.capturing = False
    return tree_unflatten(out_def, out)


def _digest(value):
    if isinstance(value, (tuple, list)):
        return tuple(_digest(v) for v in value)
    if hasattr(value, 'dtype') and hasattr(value, 'shape'):
        host = to_numpy(value)
        data = host.tobytes() if host.ndim == 0 or not host.flags.c_contiguous else host.data
        return (type(value), host.shape, host.dtype.str, hashlib.blake2b(data).digest())
    return (type(value), repr(value))


_local = threading.local()
_lock = threading.Lock()
_installed = {}      # primitive -> [its own impl, how many windows use it]


class _Remembering:
    """Stands in for a named primitive's implementation while some checkpoint uses
    its saved results (in this thread: other threads get the implementation)."""
    __slots__ = ('prim', 'impl')

    def __init__(self, prim, impl):
        self.prim, self.impl = prim, impl

    def __call__(self, *args, **params):
        stack = getattr(_local, 'stack', None)
        if stack:
            saved, capture = stack[-1]
            if saved is not None and self.prim.name in saved.names:
                return saved.compute(self.prim, self.impl, args, params, capture)
        return self.impl(*args, **params)


class _using:
    """``with _using(saved, capture):`` the named primitives take (and, capturing,
    keep) saved results in this thread."""

    def __init__(self, saved, capture):
        self.saved, self.capture = saved, capture

    def __enter__(self):
        self.pushed = self.saved is not None or bool(getattr(_local, 'stack', None))
        if not self.pushed:         # no policy here, none to hide from f
            return
        names = () if self.saved is None else self.saved.names
        prims = [p for p in all_primitives() if p.name in names]
        with _lock:
            for p in prims:
                entry = _installed.setdefault(p, [p.impl, 0])
                entry[1] += 1
                if entry[1] == 1:
                    p.impl = _Remembering(p, entry[0])
        self.prims = prims
        if not hasattr(_local, 'stack'):
            _local.stack = []
        _local.stack.append((self.saved, self.capture))

    def __exit__(self, *exc):
        if not self.pushed:
            return
        _local.stack.pop()
        with _lock:
            for p in self.prims:
                entry = _installed[p]
                entry[1] -= 1
                if entry[1] == 0:
                    p.impl = entry[0]
                    del _installed[p]

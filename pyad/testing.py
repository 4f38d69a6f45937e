"""Checking derivatives: forward mode, reverse mode and finite differences agree.

``check_grads(f, x, order=2)`` compares, along a random direction v and a random
output cotangent u:

* forward mode ``J v`` with central finite differences of f (in float64);
* reverse mode ``uᵀ J`` with the same, through ``<uᵀJ, v> = <u, J v>``;
* the batched passes: ``jacfwd`` and ``jacrev`` (every direction at once)
  against each other and against ``J v``, when the Jacobian is small;

and then, for ``order`` > 1, does the same for the derivative functions
``x -> J(x) v`` and ``x -> uᵀ J(x)`` themselves, which covers every nesting
(forward over forward, forward over reverse, reverse over forward, reverse over
reverse, batched included).  A mismatch raises AssertionError saying which check,
at which order, by how much.

Every speed trait of the primitives f uses is checked too: the whole check runs
with every stub and every deferral forced (so a rule that reads a value its
``reads`` trait says it does not raises TraitError naming the primitive), and
``J v``, ``uᵀ J`` and the batched Jacobians are compared with the same
computed in the reference mode (``reference()``: every fast path off).  Where
they differ, the primitive at fault is found (its traits switched off, one
primitive at a time) and named in a TraitError.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager, Iterable, Optional

import numpy as _onp

from ._core.box import innermost
from ._core.pytree import tree_flatten, tree_unflatten
from .backend import to_numpy, namespace, on_device_of
from .operators import jvp, vjp, jacfwd, jacrev
from ._core import config
from ._core.primitive import primitives_with_traits
from ._core.strategies import REFERENCE
from ._core.traits import PLAIN, TraitError

__all__ = ['check_grads', 'numerical_jvp', 'reference', 'TraitError']


def reference() -> ContextManager[Any]:
    """``with pyad.testing.reference():`` -- every fast path of the engine off: the
    plain rules of every primitive, no deferred values, no lazy constant factors,
    no sums in place, and every array the rules do not read left off the tape.
    Derivatives computed inside must equal those computed outside."""
    return config.reference()


def _wide(value):
    """float64, or complex128 for a complex value (complex derivatives are checked
    as they are: see docs/complex.md)."""
    value = to_numpy(value)
    return _onp.complex128 if _onp.iscomplexobj(value) else _onp.float64


def _leaves64(tree):
    return [_onp.asarray(to_numpy(l), dtype=_wide(l)) for l in tree_flatten(tree)[0]]


def _vdot(a, b):
    """Re Σ a b: the pairing of a cotangent with a tangent (JAX's, for complex values)."""
    return float(sum(_onp.sum(x * y).real for x, y in zip(_leaves64(a), _leaves64(b))))


def _has_complex(tree):
    return any(_wide(l) is _onp.complex128 for l in tree_flatten(tree)[0])


def _random_like(tree, rng):
    leaves, treedef = tree_flatten(tree)
    out = []
    for leaf in leaves:
        inner = innermost(leaf)
        shape = _onp.shape(inner)
        r = rng.standard_normal(shape)
        if _onp.iscomplexobj(inner):
            r = r + 1j * rng.standard_normal(shape)
        if isinstance(inner, float) or not hasattr(inner, 'dtype'):
            out.append(float(r))
        else:
            out.append(_like_array(r.astype(inner.dtype), inner))
    return tree_unflatten(treedef, out)


def _like_array(host, ref):
    """A host array as an array of ref's library (a NumPy scalar for 0-d NumPy)."""
    if namespace(ref) is not _onp:
        return on_device_of(host, ref)
    return host if _onp.ndim(host) else host[()]


def _axpy(a, x, y):
    """y + a x, leafwise, computed in float64 and put where y lives (so that f is
    evaluated on y's device, with y's array library)."""
    xs, treedef = tree_flatten(x)
    ys = tree_flatten(y)[0]
    out = []
    for xi, yi in zip(xs, ys):
        z = _onp.asarray(to_numpy(yi), _wide(yi)) + a * _onp.asarray(to_numpy(xi), _wide(xi))
        inner = innermost(yi)
        out.append(on_device_of(z, inner) if hasattr(inner, "shape") else z)
    return tree_unflatten(treedef, out)


def numerical_jvp(f: Callable[..., Any], x: Any, v: Any, eps: float = 1e-6) -> Any:
    """Central finite difference of f at x along v, in float64."""
    plus = f(_axpy(eps, v, x))
    minus = f(_axpy(-eps, v, x))
    pl, treedef = tree_flatten(plus)
    ml = tree_flatten(minus)[0]
    return tree_unflatten(treedef, [(_onp.asarray(to_numpy(a), _wide(a))
                                     - _onp.asarray(to_numpy(b), _wide(b))) / (2 * eps)
                                    for a, b in zip(pl, ml)])


def _dtype_of_tree(tree):
    kinds = [getattr(innermost(l), 'dtype', _onp.dtype(_onp.float64)) for l in tree_flatten(tree)[0]]
    low = any(k == _onp.float32 or k == _onp.complex64 for k in kinds)
    return _onp.dtype(_onp.float32) if low else _onp.dtype(_onp.float64)


def _close(name, a, b, rtol, atol, order, scale=None):
    a = _onp.asarray(a, dtype=_wide(a))
    b = _onp.asarray(b, dtype=_wide(b))
    if a.shape != b.shape:
        raise AssertionError(f'check_grads (order {order}): {name}: shapes differ {a.shape} vs {b.shape}')
    scale = max(1.0, float(_onp.max(_onp.abs(b), initial=0.0))) if scale is None else scale
    err = float(_onp.max(_onp.abs(a - b), initial=0.0))
    if not err <= atol + rtol * scale or not _onp.all(_onp.isfinite(a) == _onp.isfinite(b)):
        raise AssertionError(
            f'check_grads (order {order}): {name} disagree: max |difference| = {err:.3g} '
            f'(allowed {atol + rtol * scale:.3g})\n first:  {a.ravel()[:8]}\n second: {b.ravel()[:8]}')


def _flat(tree):
    leaves = _leaves64(tree)
    return _onp.concatenate([l.ravel() for l in leaves]) if leaves else _onp.zeros(0)


def check_grads(f: Callable[..., Any], x: Any, order: int = 2,
                modes: Iterable[str] = ('fwd', 'rev'), *, eps: float = 1e-6,
                rtol: Optional[float] = None, atol: Optional[float] = None,
                batched: bool = True, max_batched_size: int = 64, seed: int = 0) -> None:
    """Assert that pyad's derivatives of f at x agree with each other and with
    finite differences, up to ``order``; returns None or raises AssertionError.
    Complex inputs and outputs are checked along complex directions, with the
    pairing Re Σ u v of a cotangent and a tangent (docs/complex.md); the batched
    Jacobians only where inputs and outputs are real."""
    rng = _onp.random.default_rng(seed)
    dtype = _dtype_of_tree(x)
    if rtol is None:
        rtol = 2e-2 if dtype == _onp.float32 else 1e-5
    if atol is None:
        atol = rtol
    with config.strict():
        _check(f, x, order, tuple(modes), eps, rtol, atol, batched, max_batched_size, rng, 1)


def _against_reference(name, compute, fast, rtol, atol, level):
    """``fast`` (computed with the fast paths on) against ``compute()`` in the
    reference mode; at a difference, name the primitive whose traits cause it."""
    with config.reference():
        ref = compute()
    try:
        _close(f'{name}: fast paths and reference mode', _flat(fast), _flat(ref), rtol, atol, level)
    except AssertionError as err:
        culprits = _culprits(compute, ref, rtol, atol, level)
        if not culprits:
            raise
        names = ', '.join(repr(p.name) for p in culprits)
        if len(culprits) == 1:
            which = f'pyad primitive {names}: its traits {culprits[0].traits}'
        else:
            which = (f'pyad primitives {names}: the traits of one of them (switched off '
                     f'alone, each removes the difference)')
        raise TraitError(f'{which} give another derivative than the plain rules ({err})') from None


def _culprits(compute, ref, rtol, atol, level):
    """The primitives whose traits, switched off alone, make ``compute()`` agree with
    the reference."""
    found = []
    for prim in primitives_with_traits():
        with _plain(prim):
            try:
                _close('', _flat(compute()), _flat(ref), rtol, atol, level)
            except (AssertionError, TraitError):
                continue
            found.append(prim)
    return sorted(found, key=lambda p: p.name)


@contextlib.contextmanager
def _plain(prim):
    saved = prim.traits, prim.reverse
    prim.traits, prim.reverse = PLAIN, REFERENCE
    try:
        yield
    finally:
        prim.traits, prim.reverse = saved


def _check(f, x, order, modes, eps, rtol, atol, batched, max_batched_size, rng, level):
    if order < 1:
        return
    y = f(x)
    v = _random_like(x, rng)
    u = _random_like(y, rng)
    numeric = numerical_jvp(f, x, v, eps)
    y_fwd = jv = None
    if 'fwd' in modes:
        y_fwd, jv = jvp(f, (x,), (v,))
        _against_reference('forward-mode J v', lambda: jvp(f, (x,), (v,))[1], jv, rtol, atol,
                           level)
        _close('forward-mode J v and finite differences', _flat(jv), _flat(numeric), rtol, atol, level)
        _close('forward-mode value and f(x)', _flat(y_fwd), _flat(y), rtol, atol, level)
    if 'rev' in modes:
        y_rev, pullback = vjp(f, x)
        ujt = pullback(u)
        _against_reference('reverse-mode uᵀJ', lambda: vjp(f, x)[1](u), ujt, rtol, atol, level)
        _close('reverse-mode value and f(x)', _flat(y_rev), _flat(y), rtol, atol, level)
        lhs = _vdot(ujt, v)
        scale = max(1.0, float(_onp.sum(_onp.abs(_flat(u) * _flat(numeric)))))
        _close('reverse-mode <uᵀJ, v> and finite-difference <u, J v>', lhs, _vdot(u, numeric),
               rtol, atol, level, scale)
        if jv is not None:
            _close('reverse-mode <uᵀJ, v> and forward-mode <u, J v>', lhs, _vdot(u, jv),
                   rtol, atol, level, scale)
    if batched:
        _check_jacobians(f, x, y, v, numeric, modes, rtol, atol, max_batched_size, level)
    if order > 1:
        if 'fwd' in modes:
            _check(lambda x_: jvp(f, (x_,), (v,))[1], x, order - 1, modes, eps, rtol, atol,
                   batched, max_batched_size, rng, level + 1)
        if 'rev' in modes:
            _check(lambda x_: vjp(f, x_)[1](u), x, order - 1, modes, eps, rtol, atol,
                   batched, max_batched_size, rng, level + 1)


def _check_jacobians(f, x, y, v, numeric, modes, rtol, atol, max_batched_size, level):
    """The batched Jacobians (jacfwd, jacrev) against J v and each other."""
    in_sizes = [l.size for l in _leaves64(x)]
    out_sizes = [l.size for l in _leaves64(y)]
    if not _batchable(x, y, in_sizes, out_sizes, max_batched_size):
        return
    matrices = {}
    for mode, name, jacobian, which in (('fwd', 'jacfwd', jacfwd, 'forward'),
                                        ('rev', 'jacrev', jacrev, 'reverse')):
        if mode not in modes:
            continue

        def matrix(jacobian=jacobian):
            return _jacobian_matrix(jacobian(f)(x), out_sizes, in_sizes)
        matrices[mode] = m = matrix()
        _against_reference(name, matrix, m, rtol, atol, level)
        _close(f'batched {which} Jacobian ({name}) times v and J v', m @ _flat(v),
               _flat(numeric), rtol, atol, level)
    if len(matrices) == 2:
        _close('jacfwd and jacrev', matrices['fwd'], matrices['rev'], rtol, atol, level)


def _batchable(x, y, in_sizes, out_sizes, max_batched_size):
    """Whether the batched Jacobians are checked: not too large, and real (jacfwd
    wants real inputs and jacrev real outputs; complex functions are checked by
    their JVPs and VJPs)."""
    n_in, n_out = sum(in_sizes), sum(out_sizes)
    if not n_in or not n_out or n_in * n_out > max_batched_size * max_batched_size:
        return False
    return not _has_complex(x) and not _has_complex(y)


def _jacobian_matrix(J, out_sizes, in_sizes):
    """The Jacobian pytree (out structure of in structure) as a matrix.  Its leaves
    come block by block: for each output leaf, one block per input leaf."""
    leaves = _leaves64(J)
    if len(leaves) != len(out_sizes) * len(in_sizes):
        raise AssertionError(f'check_grads: the Jacobian has {len(leaves)} blocks, expected '
                             f'{len(out_sizes)} x {len(in_sizes)}')
    rows = []
    k = 0
    for so in out_sizes:
        row = []
        for si in in_sizes:
            row.append(leaves[k].reshape(so, si))
            k += 1
        rows.append(_onp.concatenate(row, axis=1))
    return _onp.concatenate(rows, axis=0)

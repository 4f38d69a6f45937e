"""Products: matmul and einsum (primitives), and the products built on them
(dot, vdot, inner, outer, tensordot, kron)."""
from __future__ import annotations

from typing import Any
from ..typing import Array, ArrayLike
import functools as _functools
import string as _string

import numpy as _np

from .._core.primitive import Primitive
from .._core.traits import Traits
from .._core.box import Box, shape_of, ndim_of, dtype_of
from ..backend import namespace, wrap_like, is_dask, dask_matmul
from ._batching import unbroadcast_shape, real_for
from .manipulation import reshape, swapaxes, transpose


def _matmul_impl(x, y):
    if type(x) is not _np.ndarray or type(y) is not _np.ndarray:
        if is_dask(x) or is_dask(y):
            return dask_matmul(x, y)
    return _np.matmul(x, y)


def _as_matrices(x, y):
    """NumPy's promotion of 1-D operands: x (k,) -> (1, k), y (k,) -> (k, 1).
    Returns the promoted shapes and the shape of their product."""
    xs, ys = tuple(shape_of(x)), tuple(shape_of(y))
    xs2 = (1,) + xs if len(xs) == 1 else xs
    ys2 = ys + (1,) if len(ys) == 1 else ys
    stack = _np.broadcast_shapes(xs2[:-2], ys2[:-2])
    return xs2, ys2, tuple(stack) + (xs2[-2], ys2[-1])


def _promote(t, bnd, shape2, out_ndim2):
    """A batched (co)tangent reshaped to batch + shape2, with size-1 stack axes
    inserted after the batch so that it broadcasts against an out_ndim2 product."""
    batch = tuple(shape_of(t)[:bnd])
    return reshape(t, batch + (1,) * (out_ndim2 - len(shape2)) + tuple(shape2))


# Fast paths below keep a batch of B directions in ONE matrix product against a
# 2-D operand, instead of a stack of B small products (or matrix-vector products).

def _diagonal_of(t):
    """The diagonal of ``t`` when t is a plain square matrix that is zero off its
    diagonal, else None.  Batched Jacobians start from identity seeds (and an
    elementwise function keeps them diagonal): a product with a diagonal matrix
    is a row scaling, O(n^2) instead of an O(n^3) matrix product.  The test costs
    O(n^2), small beside the product it may save."""
    if type(t) is not _np.ndarray or t.ndim != 2 or t.shape[0] != t.shape[1] or t.shape[0] < 16:
        return None
    d = _np.diagonal(t)
    if _np.count_nonzero(t) != _np.count_nonzero(d):
        return None
    return d


def _directions_times(t, m):
    """t @ m for a (B, k) batch of directions t and a (k, n) matrix m."""
    d = _diagonal_of(t)
    if d is None:
        return matmul(t, m)
    if type(m) is _np.ndarray and m.dtype == d.dtype and (d == 1).all():
        # identity seeds (a Jacobian's first product): m itself, as a read-only view,
        # so that nothing writes into it (a derivative handed to the user that is
        # read-only is copied: operators._writable)
        view = m.view()
        view.setflags(write=False)
        return view
    return d[:, None] * m


def _matmul_jvp_x(t, ans, x, y):
    bnd = ndim_of(t) - ndim_of(x)
    if bnd == 0:
        return matmul(t, y)
    if ndim_of(y) == 2:
        ts = shape_of(t)
        r = _directions_times(reshape(t, (-1, ts[-1])), y)
        return reshape(r, tuple(ts[:bnd]) + tuple(shape_of(ans)))
    xs2, ys2, out2 = _as_matrices(x, y)
    r = matmul(_promote(t, bnd, xs2, len(out2)), reshape(y, ys2))
    return reshape(r, tuple(shape_of(t)[:bnd]) + tuple(shape_of(ans)))


def _matmul_jvp_y(t, ans, x, y):
    bnd = ndim_of(t) - ndim_of(y)
    if bnd == 0:
        return matmul(x, t)
    if ndim_of(x) == 2 and ndim_of(y) == 1:
        if bnd == 1:
            return _directions_times(t, transpose(x))
        return matmul(t, transpose(x))        # (B.., k) @ (k, n)
    xs2, ys2, out2 = _as_matrices(x, y)
    r = matmul(reshape(x, xs2), _promote(t, bnd, ys2, len(out2)))
    return reshape(r, tuple(shape_of(t)[:bnd]) + tuple(shape_of(ans)))


def _matmul_vjp_x(g, ans, x, y):
    xn, yn = ndim_of(x), ndim_of(y)
    bnd = ndim_of(g) - ndim_of(ans)
    if xn == 2 and yn == 2:
        if bnd == 0:
            return matmul(g, transpose(y))
        gs = shape_of(g)
        r = matmul(reshape(g, (-1, gs[-1])), transpose(y))
        return reshape(r, tuple(gs[:bnd]) + tuple(shape_of(x)))
    if xn == 2 and yn == 1:
        from .manipulation import expand_dims
        return expand_dims(g, -1) * y          # outer products, batched
    xs2, ys2, out2 = _as_matrices(x, y)
    batch = tuple(shape_of(g)[:bnd])
    g2 = reshape(g, batch + out2)
    r = matmul(g2, swapaxes(reshape(y, ys2), -1, -2))
    r = unbroadcast_shape(r, out2[:-2] + xs2[-2:], xs2)
    return reshape(r, batch + tuple(shape_of(x)))


def _matmul_vjp_y(g, ans, x, y):
    xn, yn = ndim_of(x), ndim_of(y)
    bnd = ndim_of(g) - ndim_of(ans)
    if bnd == 0 and xn == 2 and yn == 2:
        return matmul(transpose(x), g)
    if xn == 2 and yn == 1:
        if bnd == 1:
            return _directions_times(g, x)
        return matmul(g, x)                    # (B.., n) @ (n, k)
    xs2, ys2, out2 = _as_matrices(x, y)
    batch = tuple(shape_of(g)[:bnd])
    g2 = reshape(g, batch + out2)
    r = matmul(swapaxes(reshape(x, xs2), -1, -2), g2)
    r = unbroadcast_shape(r, out2[:-2] + ys2[-2:], ys2)
    return reshape(r, batch + tuple(shape_of(y)))


# each argument's VJP reads only the other argument (and shapes) and makes new
# arrays or views: the tape need not keep the product itself
_matmul = Primitive('matmul', _matmul_impl, traits=Traits(reads='other', fresh=True),
                    complex_rules=True)
_matmul.def_jvp(_matmul_jvp_x, _matmul_jvp_y)
# (a real operand of a complex product gets the real part of its cotangent)
_matmul.def_vjp(lambda g, ans, x, y: real_for(_matmul_vjp_x(g, ans, x, y), x, ans),
                lambda g, ans, x, y: real_for(_matmul_vjp_y(g, ans, x, y), y, ans))


_SEQUENCES = (list, tuple)


def _arrays(a, b):
    """Lists and tuples (which NumPy takes as arrays) as arrays; the rest as it is."""
    from .creation import asarray
    return tuple(asarray(x) if type(x) in _SEQUENCES else x for x in (a, b))


def matmul(x1: ArrayLike, x2: ArrayLike) -> Array:
    """numpy.matmul (the ``@`` operator), over stacks of matrices too."""
    if type(x1) in _SEQUENCES or type(x2) in _SEQUENCES:
        x1, x2 = _arrays(x1, x2)
    s1, s2 = shape_of(x1), shape_of(x2)
    if not s1 or not s2:
        raise ValueError('matmul: scalar operands are not allowed, use * instead')
    k1 = s1[-1]
    k2 = s2[-2] if len(s2) >= 2 else s2[0]
    if k1 != k2 and (k1 == k1 or k2 == k2):   # (two lengths unknown until computed: Dask's to check)
        raise ValueError(f'matmul: shapes {tuple(s1)} and {tuple(s2)} are not aligned: '
                         f'{k1} (last axis of the first) != {k2} (contracted axis of the second)')
    return _matmul(x1, x2)


# ----------------------------------------------------------------- einsum
_LETTERS = _string.ascii_letters


def _any_boxed(*args):
    for a in args:
        if isinstance(a, Box):
            return True
    return False


def _fresh(used, n):
    """n letters not in ``used`` (which is updated)."""
    out = []
    for c in _LETTERS:
        if len(out) == n:
            break
        if c not in used:
            used.add(c)
            out.append(c)
    if len(out) < n:
        raise NotImplementedError('einsum: more than 52 distinct indices are needed '
                                  '(including those pyad adds for derivatives)')
    return ''.join(out)


def _split_sides(subscripts, n_operands):
    """The operands' subscripts and the output's (None for an implicit output),
    spaces removed, one part per operand."""
    s = subscripts.replace(' ', '')
    if s.count('->') > 1:
        raise ValueError(f"einsum: subscripts {subscripts!r} contain more than one '->'")
    lhs, arrow, out = s.partition('->')
    ins = lhs.split(',')
    if len(ins) != n_operands:
        raise ValueError(f'einsum: subscripts {subscripts!r} name {len(ins)} operand(s), '
                         f'but {n_operands} were given')
    return ins, (out if arrow else None)


def _letters_of(subscripts, parts):
    """The letters the parts use; anything but letters and one '...' a part is an error."""
    used = set()
    for part in parts:
        for c in part.replace('...', '', 1):
            if c not in _LETTERS:
                raise ValueError(f'einsum: invalid subscript {c!r} in {subscripts!r} '
                                 f'(letters a-z, A-Z and one ... per operand)')
            used.add(c)
    return used


def _ellipsis_ndim(part, shape):
    """How many dimensions the '...' of an operand's subscripts stands for (0 without one)."""
    letters = len(part.replace('...', ''))
    if '...' not in part:
        if letters != len(shape):
            raise ValueError(f'einsum: operand subscripts {part!r} have {letters} indices '
                             f'but the operand has {len(shape)} dimensions (shape {shape})')
        return 0
    if letters > len(shape):
        raise ValueError(f'einsum: operand {part!r} has {letters} indices but only '
                         f'{len(shape)} dimensions (shape {shape})')
    return len(shape) - letters


def _explicit_output(out, ell, ins):
    """The output subscripts given, their '...' spelled with the letters ``ell``."""
    if '...' in out:
        out = out.replace('...', ell)
    elif ell:
        raise ValueError(f"einsum: the operands have broadcast dimensions ('...') but the "
                         f"output {out!r} has no '...' to hold them")
    if len(set(out)) != len(out):
        raise ValueError(f'einsum: output subscripts {out!r} repeat an index')
    for c in out:
        if not any(c in p for p in ins):
            raise ValueError(f'einsum: output index {c!r} does not occur in any operand')
    return out


def _implicit_output(ins, ell):
    """NumPy's implicit output: the broadcast letters ``ell``, then the indices that
    occur once, in alphabetical order."""
    letters = ''.join(ins)
    return ell + ''.join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))


def _check_sizes(subscripts, ins, shapes):
    """Each index has one size, where it is not 1 (which broadcasts)."""
    sizes = {}
    for p, shape in zip(ins, shapes):
        for c, d in zip(p, shape):
            old = sizes.get(c, 1)
            if d != 1 and old != 1 and d != old:
                raise ValueError(f'einsum: index {c!r} has size {old} in one place and {d} in '
                                 f'another (subscripts {subscripts!r}, shapes {shapes})')
            if d != 1 or c not in sizes:
                sizes[c] = d


@_functools.lru_cache(maxsize=1024)
def _normalize_subscripts(subscripts, shapes):
    """The subscripts in explicit form with no ellipsis ('ab,bc->ac'), checked
    against the operand shapes; errors in NumPy's terms."""
    ins, out = _split_sides(subscripts, len(shapes))
    used = _letters_of(subscripts, ins if out is None else ins + [out])
    ell_ndims = [_ellipsis_ndim(part, shape) for part, shape in zip(ins, shapes)]
    n_ell = max(ell_ndims, default=0)
    ell = _fresh(used, n_ell)
    # an operand with fewer broadcast dimensions takes the last of the letters
    ins = [part.replace('...', ell[n_ell - e:]) for part, e in zip(ins, ell_ndims)]
    out = _implicit_output(ins, ell) if out is None else _explicit_output(out, ell, ins)
    _check_sizes(subscripts, ins, shapes)
    return ','.join(ins) + '->' + out


@_functools.lru_cache(maxsize=1024)
def _split(subscripts):
    lhs, out = subscripts.split('->')
    return tuple(lhs.split(',')), out


def _einsum_impl(*operands, subscripts, optimize):
    return wrap_like(namespace(*operands).einsum(subscripts, *operands, optimize=optimize),
                     *operands)


def _rule_optimize(optimize, n_operands):
    """The derivative einsums often have three or more operands (the
    cotangent, the other operands, identity and ones constants): contract them
    pairwise (greedy path) unless the caller chose a path."""
    return optimize if optimize or n_operands < 3 else 'greedy'


def _einsum_jvp(tangents, ans, primals, params):
    subscripts, optimize = params['subscripts'], params['optimize']
    ins, out = _split(subscripts)
    total = None
    for k, t in enumerate(tangents):
        if t is None:
            continue
        batch = _fresh(set(subscripts), ndim_of(t) - ndim_of(primals[k]))
        subs = list(ins)
        subs[k] = batch + ins[k]
        operands = list(primals)
        operands[k] = t
        term = _einsum(*operands, subscripts=','.join(subs) + '->' + batch + out,
                       optimize=_rule_optimize(optimize, len(operands)))
        total = term if total is None else total + term
    return total


def _tie_repeated(part, shape, used, xp, dtype):
    """An operand's repeated indices ('ii') as fresh letters tied to the first
    by identity matrices: its subscripts so rewritten, and the identity
    matrices' subscripts and operands."""
    seen, target, subs, operands = set(), '', [], []
    for c, d in zip(part, shape):
        if c in seen:
            extra = _fresh(used, 1)
            subs.append(c + extra)
            operands.append(xp.eye(d, dtype=dtype))
            target += extra
        else:
            seen.add(c)
            target += c
    return target, subs, operands


def _ones_for_lone(part, shape, elsewhere_parts, elsewhere_shapes, xp, dtype):
    """Vectors of ones for an operand's indices that occur only once and
    nowhere else at their full size: their subscripts and operands."""
    elsewhere = {}                      # the size of each index without this operand
    for p, s in zip(elsewhere_parts, elsewhere_shapes):
        for c, d in zip(p, s):
            elsewhere[c] = max(elsewhere.get(c, 0), d)
    subs, operands = [], []
    for c, d in zip(part, shape):
        if part.count(c) == 1 and elsewhere.get(c, 0) < d:
            subs.append(c)
            operands.append(xp.ones(d, dtype=dtype))
    return subs, operands


def _einsum_cotangent(g, ans, primals, k, subscripts, bnd, optimize):
    """The cotangent of operand k: the einsum of g with the other operands,
    into operand k's indices, summed over the axes operand k broadcast."""
    ins, out = _split(subscripts)
    used = set(subscripts)
    batch = _fresh(used, bnd)
    shape = tuple(shape_of(primals[k]))
    dtype = dtype_of(primals[k]) if dtype_of(primals[k]).kind == 'f' else dtype_of(g)
    xp = namespace(g)
    others = [j for j in range(len(ins)) if j != k]
    other_subs, other_operands = [ins[j] for j in others], [primals[j] for j in others]
    target, tie_subs, ties = _tie_repeated(ins[k], shape, used, xp, dtype)
    one_subs, ones = _ones_for_lone(ins[k], shape, [out] + other_subs,
                                    [shape_of(ans)] + [shape_of(o) for o in other_operands],
                                    xp, dtype)
    operands = [g] + other_operands + ties + ones
    subs = [batch + out] + other_subs + tie_subs + one_subs
    r = _einsum(*operands, subscripts=','.join(subs) + '->' + batch + target,
                optimize=_rule_optimize(optimize, len(operands)))
    return _sum_broadcast(r, shape, bnd)


def _sum_broadcast(r, shape, bnd):
    """r (bnd batch axes, then one per axis of ``shape``) summed over the axes
    where shape has 1 and r does not, kept as size 1."""
    rs = shape_of(r)
    summed = tuple(bnd + i for i, d in enumerate(shape) if d == 1 and rs[bnd + i] != 1)
    if not summed:
        return r
    from .reductions import _sum
    return _sum(r, summed, True)


def _einsum_vjp(g, ans, primals, params, positions):
    """The cotangent of operand k is the einsum of g with the other operands,
    into operand k's indices.  Repeated indices of operand k ('ii') get fresh
    letters tied to the first by identity matrices; indices found nowhere else
    are broadcast with a vector of ones; dimensions operand k broadcast from
    size 1 are summed back."""
    bnd = ndim_of(g) - ndim_of(ans)
    return [_einsum_cotangent(g, ans, primals, k, params['subscripts'], bnd, params['optimize'])
            for k in positions]


def _einsum_vjp_kinds(g, ans, primals, params, positions):
    results = _einsum_vjp(g, ans, primals, params, positions)
    return [real_for(r, primals[k], ans) for r, k in zip(results, positions)]


_einsum = Primitive('einsum', _einsum_impl, complex_rules=True)
_einsum.def_jvp_joint(_einsum_jvp)
_einsum.def_vjp_joint(_einsum_vjp_kinds)


def einsum(subscripts: str, *operands: ArrayLike, optimize: Any = False) -> Array:
    """numpy.einsum: explicit ('ij,jk->ik') or implicit ('ij,jk') output, '...'
    broadcasting, repeated indices ('ii->i', 'ii'), and the interleaved form
    einsum(a, [0, 1], b, [1, 2], [0, 2]).
    Each operand's derivative is another einsum."""
    if not isinstance(subscripts, str):
        subscripts, operands = _from_sublists((subscripts,) + operands)
    shapes = tuple(tuple(shape_of(o)) for o in operands)
    explicit = _normalize_subscripts(subscripts, shapes)
    if not _any_boxed(*operands):
        return wrap_like(namespace(*operands).einsum(subscripts, *operands, optimize=optimize),
                         *operands)
    return _einsum(*operands, subscripts=explicit, optimize=optimize)



def _sublist_letters(sublist):
    out = ''
    for s in sublist:
        if s is Ellipsis:
            out += '...'
        elif isinstance(s, (int, _np.integer)) and 0 <= s < len(_LETTERS):
            out += _LETTERS[s]
        else:
            raise ValueError(f'einsum: a subscript in a sublist must be an integer in '
                             f'[0, {len(_LETTERS)}) or Ellipsis, got {s!r}')
    return out


def _from_sublists(args):
    """The interleaved form einsum(a, [0, 1], b, [1, 2], [0, 2]) as a subscripts
    string and its operands ('ab,bc->ac', (a, b))."""
    out = None
    if len(args) % 2:                   # an output sublist last (else: implicit output)
        out, args = args[-1], args[:-1]
    operands, subs = args[0::2], args[1::2]
    if not operands:
        raise TypeError('einsum: the interleaved form takes operand, sublist pairs '
                        '(einsum(a, [0, 1], b, [1, 2], [0, 2]))')
    for s in subs + (() if out is None else (out,)):
        if not isinstance(s, (list, tuple)):
            raise TypeError(f'einsum: a sublist must be a list of integers, got {type(s).__name__}')
    text = ','.join(_sublist_letters(s) for s in subs)
    if out is not None:
        text += '->' + _sublist_letters(out)
    return text, tuple(operands)


# ----------------------------------------------------------------- dot and friends
def _axis_list(ax):
    return [ax] if isinstance(ax, (int, _np.integer)) else list(ax)


def _tensordot_axis_pair(na, nb, axes):
    """numpy.tensordot's axes given as a pair of axis sequences (or of axes),
    normalised against ndims na and nb."""
    try:
        ax_a, ax_b = axes
    except (TypeError, ValueError):
        raise TypeError('tensordot: axes must be an int or a pair of axis sequences') from None
    ax_a, ax_b = _axis_list(ax_a), _axis_list(ax_b)
    if len(ax_a) != len(ax_b):
        raise ValueError(f'tensordot: axes {axes} name {len(ax_a)} and {len(ax_b)} axes')
    from ._batching import normalize_axis
    try:
        ax_a = [normalize_axis(a, na) for a in ax_a]
        ax_b = [normalize_axis(b, nb) for b in ax_b]
    except (TypeError, ValueError) as e:
        raise type(e)(f'tensordot: {e}') from None
    if len(set(ax_a)) != len(ax_a) or len(set(ax_b)) != len(ax_b):
        raise ValueError(f'tensordot: repeated axis in {axes}')
    return ax_a, ax_b


def _tensordot_axes(a_shape, b_shape, axes):
    """numpy.tensordot's axes argument as two lists of non-negative axes."""
    na, nb = len(a_shape), len(b_shape)
    if isinstance(axes, (int, _np.integer)):
        n = int(axes)
        if n < 0 or n > na or n > nb:
            raise ValueError(f'tensordot: axes = {n} is invalid for shapes {a_shape} and {b_shape}')
        ax_a, ax_b = list(range(na - n, na)), list(range(n))
    else:
        ax_a, ax_b = _tensordot_axis_pair(na, nb, axes)
    for i, j in zip(ax_a, ax_b):
        if a_shape[i] != b_shape[j]:
            raise ValueError(f'tensordot: shape-mismatch for sum: axis {i} of a {a_shape} has '
                             f'size {a_shape[i]}, axis {j} of b {b_shape} has size {b_shape[j]}')
    return ax_a, ax_b


def _size(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def _tensordot(a, b, ax_a, ax_b):
    """Contract axes ax_a of a with ax_b of b: a transpose, a reshape and one matmul."""
    sa, sb = tuple(shape_of(a)), tuple(shape_of(b))
    free_a = [i for i in range(len(sa)) if i not in ax_a]
    free_b = [i for i in range(len(sb)) if i not in ax_b]
    k = _size(sa[i] for i in ax_a)
    a2 = reshape(transpose(a, free_a + list(ax_a)), (_size(sa[i] for i in free_a), k))
    b2 = reshape(transpose(b, list(ax_b) + free_b), (k, _size(sb[i] for i in free_b)))
    return reshape(matmul(a2, b2), tuple(sa[i] for i in free_a) + tuple(sb[i] for i in free_b))


def tensordot(a: ArrayLike, b: ArrayLike, axes: Any = 2) -> Array:
    """numpy.tensordot (axes an int, or a pair of axis lists)."""
    sa, sb = tuple(shape_of(a)), tuple(shape_of(b))
    ax_a, ax_b = _tensordot_axes(sa, sb, axes)
    if not _any_boxed(a, b):
        return namespace(a, b).tensordot(a, b, axes)
    return _tensordot(a, b, ax_a, ax_b)


def _dask_operand(a, b):
    """Whether a or b is a Dask array: the products below build its graph from
    tensordot and elementwise products, which take scalars and every chunking."""
    return is_dask(a) or is_dask(b)


def _check_dot_shapes(sa, sb):
    k_b = sb[-2] if len(sb) >= 2 else sb[0]
    if sa[-1] != k_b:
        raise ValueError(f'dot: shapes {sa} and {sb} not aligned: {sa[-1]} (last axis of a) '
                         f'!= {k_b} ({"second-to-last" if len(sb) >= 2 else "only"} axis of b)')


def dot(a: ArrayLike, b: ArrayLike) -> Array:
    """numpy.dot: a product for scalars, the inner product of vectors, matmul for
    matrices, and for N-D arrays a sum over the last axis of a and the
    second-to-last of b."""
    a, b = _arrays(a, b)
    sa, sb = tuple(shape_of(a)), tuple(shape_of(b))
    if sa and sb:
        _check_dot_shapes(sa, sb)
    if not sa or not sb:
        # (a product with a number, traced or not: float32 stays float32, as in JAX,
        # where NumPy's dot makes an int an int64 array)
        from .elementwise import multiply
        return multiply(a, b)
    if not _any_boxed(a, b):
        return namespace(a, b).dot(a, b)
    if len(sb) == 1 or (len(sa) == 1 and len(sb) == 2) or (len(sa) == 2 and len(sb) == 2):
        return matmul(a, b)
    return _tensordot(a, b, [len(sa) - 1], [len(sb) - 2])


def vdot(a: ArrayLike, b: ArrayLike) -> Array:
    """numpy.vdot: the dot product of the flattened arrays, the first conjugated."""
    sa, sb = tuple(shape_of(a)), tuple(shape_of(b))
    if _size(sa) != _size(sb):
        raise ValueError(f'vdot: a of shape {sa} and b of shape {sb} have different sizes')
    if not _any_boxed(a, b):
        return namespace(a, b).vdot(a, b)
    from .complexes import conj
    return matmul(conj(reshape(a, (-1,))), reshape(b, (-1,)))


def inner(a: ArrayLike, b: ArrayLike) -> Array:
    """numpy.inner: a sum over the last axes of a and b (a product for scalars)."""
    sa, sb = tuple(shape_of(a)), tuple(shape_of(b))
    if sa and sb and sa[-1] != sb[-1]:
        raise ValueError(f'inner: last dimensions of a {sa} and b {sb} differ')
    if not _any_boxed(a, b) and not _dask_operand(a, b):    # (Dask's inner of row chunks errs)
        return namespace(a, b).inner(a, b)
    if not sa or not sb:
        from .elementwise import multiply
        return multiply(a, b)
    if len(sa) == 1 and len(sb) == 1:
        return matmul(a, b)
    return _tensordot(a, b, [len(sa) - 1], [len(sb) - 1])


def outer(a: ArrayLike, b: ArrayLike) -> Array:
    """numpy.outer: ravel(a)[:, None] * ravel(b)[None, :]."""
    if not _any_boxed(a, b) and not _dask_operand(a, b):
        return namespace(a, b).outer(a, b)
    from .elementwise import multiply
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def kron(a: ArrayLike, b: ArrayLike) -> Array:
    """numpy.kron: the Kronecker product (shapes padded with leading 1s).  (Dask has
    no kron: Dask arrays take the product of reshapes below.)"""
    if not _any_boxed(a, b) and not (is_dask(a) or is_dask(b)):
        return namespace(a, b).kron(a, b)
    from .elementwise import multiply
    sa, sb = tuple(shape_of(a)), tuple(shape_of(b))
    n = max(len(sa), len(sb))
    sa = (1,) * (n - len(sa)) + sa
    sb = (1,) * (n - len(sb)) + sb
    a2 = reshape(a, tuple(d for da in sa for d in (da, 1)))
    b2 = reshape(b, tuple(d for db in sb for d in (1, db)))
    return reshape(multiply(a2, b2), tuple(da * db for da, db in zip(sa, sb)))


__all__ = ['matmul', 'einsum', 'dot', 'vdot', 'inner', 'outer', 'tensordot', 'kron']

"""Functional updates, as JAX spells them: ``x.at[idx].set(v)``, ``.add``,
``.multiply``, ``.divide``, ``.power``, ``.min``, ``.max``, ``.apply`` and ``.get``.

Each returns a new array and leaves ``x`` alone; it is differentiable in ``x`` and in
``v`` (to any order, in both modes), because it is written with pyad.numpy's own
gathers, scatters and ``where``.  ``x`` may be a traced value or a plain array:
``x.at[...]`` on a traced value, ``pyad.numpy.at(x)[...]`` on either.

The index is any NumPy index (integers, slices, None, Ellipsis, integer or boolean
arrays).  It is resolved once, on a plain array of positions: ``x.size`` flat
positions indexed by ``idx`` say which entry of ``x`` each entry of ``x[idx]``
updates.  An index that names an entry twice behaves as NumPy's unbuffered
``ufunc.at`` does (and as JAX does): ``add`` adds both values, ``multiply``
multiplies by both, ``min``/``max`` take the extreme of all; ``set`` keeps the last
one, as ``x[idx] = v`` does in NumPy.
"""
from __future__ import annotations

from ..typing import Array, ArrayLike
import numpy as _np

from .. import backend
from .._core.batching import per_example, holds_batch
from .._core.box import Box, innermost, shape_of, dtype_of
from .elementwise import where, multiply, divide, power, minimum, maximum
from .indexing import normalize_index, getitem, scatter_add
from .manipulation import reshape, broadcast_to, astype
from .creation import _contains_box


def _host(e):
    """An index array on the host (positions are computed there, from shapes)."""
    return backend.to_numpy(e) if hasattr(e, 'dtype') and not isinstance(e, _np.generic) else e


def _targets(x, idx):
    """The flat position in x of each entry of x[idx] (a host integer array)."""
    shape = tuple(shape_of(x))
    positions = _np.arange(_np.prod(shape, dtype=_np.intp), dtype=_np.intp).reshape(shape)
    try:
        return positions[tuple(_host(e) for e in idx)]
    except IndexError as e:
        raise IndexError(f'x.at[{_show(idx)}]: {e} (x has shape {shape})') from None


def _show(idx):
    return ', '.join('...' if e is Ellipsis else repr(e) for e in idx)


def _values(x, targets, v, where_):
    """v broadcast to the shape of x[idx] and flattened, in x's dtype."""
    shape = targets.shape
    vs = tuple(shape_of(v))
    try:
        fits = _np.broadcast_shapes(vs, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f'{where_}: values of shape {vs} do not broadcast to the shape '
                         f'{shape} of the indexed entries')
    dtype = dtype_of(x)
    if isinstance(v, Box):
        if dtype_of(v) != dtype and dtype.kind == 'f':
            v = astype(v, dtype)
    else:       # (on x's device)
        v = backend.namespace(x).asarray(v, dtype=dtype if dtype.kind in 'fc' else None)
    return reshape(broadcast_to(v, shape), (-1,))


def _rounds(targets):
    """The entries of x[idx] split into rounds in which no flat position repeats, in
    order: a list of (entries of x[idx], their flat positions in x)."""
    flat = targets.ravel()
    n = len(flat)
    order = _np.argsort(flat, kind='stable')
    in_order = flat[order]
    starts_group = _np.ones(n, dtype=bool)
    starts_group[1:] = in_order[1:] != in_order[:-1]
    # an entry's rank among those naming the same position: 0 for the first, 1 ...
    group_start = _np.maximum.accumulate(_np.where(starts_group, _np.arange(n), 0))
    rank = _np.empty(n, dtype=_np.intp)
    rank[order] = _np.arange(n) - group_start
    rounds = int(rank.max(initial=-1)) + 1
    return [(_np.nonzero(rank == r)[0], flat[rank == r]) for r in range(rounds)]


def _gathered(x, values, entries, positions):
    """(mask, g): mask marks the positions of x updated in one round, g holds the
    value for each there (x's shape; arbitrary elsewhere)."""
    size = int(_np.prod(shape_of(x), dtype=_np.intp))
    slot = _np.zeros(size, dtype=_np.intp)
    slot[positions] = entries
    mask = _np.zeros(size, dtype=bool)
    mask[positions] = True
    shape = tuple(shape_of(x))
    return (backend.on_device_of(mask.reshape(shape), x),
            reshape(getitem(values, (backend.on_device_of(slot, x),)), shape))


def _combine(x, targets, values, op):
    """x with op(x[p], v) at each position p, repeated positions applied in turn.
    op sees the updated entries only (no NaN from the others, in any derivative)."""
    for entries, positions in _rounds(targets):
        new = op(_take(reshape(x, (-1,)), positions, x), _take(values, entries, x))
        x = _placed(x, new, positions)
    return x


def _take(flat, indices, like):
    return getitem(flat, (backend.on_device_of(indices, like),))


def _placed(x, new, positions):
    """x with new[k] at the flat position positions[k] (positions distinct)."""
    mask, g = _gathered(x, new, _np.arange(len(positions)), positions)
    return where(mask, g, x)


_UFUNCS = {'add': _np.add, 'multiply': _np.multiply, 'divide': _np.divide, 'power': _np.power,
           'min': _np.minimum, 'max': _np.maximum}
_TRACED = {'multiply': multiply, 'divide': divide, 'power': power, 'min': minimum,
           'max': maximum}


def _on_host(values):
    """Whether values are plain host data (numbers, NumPy arrays, lists of them)."""
    if isinstance(values, (_np.ndarray, _np.generic, int, float, bool)):
        return True
    return isinstance(values, (list, tuple)) and not _contains_box(values)


def _check_mode(name, mode):
    if mode is not None:
        raise NotImplementedError(f'x.at[...].{name}: mode = {mode!r} is not supported; an '
                                  f'out-of-bounds index raises IndexError, as in NumPy')


class _Update:
    """``x.at[idx]``: the updates of the entries ``x[idx]``."""
    __slots__ = ('x', 'idx')

    def __init__(self, x, idx):
        self.x = x
        self.idx = normalize_index(idx)

    def _prepare(self, v, name, mode):
        _check_mode(name, mode)
        targets = _targets(self.x, self.idx)
        return targets, _values(self.x, targets, v, f'x.at[{_show(self.idx)}].{name}')

    def get(self, *, mode=None, indices_are_sorted=False, unique_indices=False, fill_value=None):
        """x[idx]."""
        _check_mode('get', mode)
        if fill_value is not None:
            raise NotImplementedError('x.at[...].get: fill_value =  is not supported; an '
                                      'out-of-bounds index raises IndexError, as in NumPy')
        return getitem(self.x, self.idx)

    def _on_numpy(self, name, values, mode):
        """The update done by NumPy itself when nothing is traced and x is a NumPy
        array, with the same semantics (assignment keeps the last of repeated
        entries, NumPy's unbuffered ufunc.at applies each); None otherwise."""
        _check_mode(name, mode)
        x = self.x
        if type(x) is not _np.ndarray or not _on_host(values):
            return None
        v = _np.asarray(values, dtype=x.dtype if x.dtype.kind in 'fc' else None)
        y = x.copy()
        try:
            if name == 'set':
                y[self.idx] = v
            else:
                _UFUNCS[name].at(y, self.idx, v)
        except IndexError as e:
            raise IndexError(f'x.at[{_show(self.idx)}]: {e} (x has shape {x.shape})') from None
        except ValueError:
            _values(x, _targets(x, self.idx), v, f'x.at[{_show(self.idx)}].{name}')
            raise
        return y

    def set(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """x with x[idx] = values (the last value wins where idx repeats an entry)."""
        done = self._on_numpy('set', values, mode)
        if done is not None:
            return done
        targets, v = self._prepare(values, 'set', mode)
        flat = targets.ravel()
        if flat.size == 0:
            return self.x
        # the entry that NumPy's assignment leaves at each position: the last one
        size = int(_np.prod(shape_of(self.x), dtype=_np.intp))
        winner = _np.full(size, -1, dtype=_np.intp)
        winner[flat] = _np.arange(flat.size, dtype=_np.intp)
        positions = _np.nonzero(winner >= 0)[0]
        return _placed(self.x, _take(v, winner[positions], self.x), positions)

    def add(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """x with values added at idx (repeated entries add up)."""
        done = self._on_numpy('add', values, mode)
        if done is not None:
            return done
        targets, v = self._prepare(values, 'add', mode)
        if targets.size == 0:
            return self.x
        shape = tuple(shape_of(self.x))
        size = int(_np.prod(shape, dtype=_np.intp))
        flat = backend.on_device_of(targets.ravel(), self.x)
        return self.x + reshape(scatter_add(v, (flat,), (size,), 1), shape)

    def _combined(self, name, values, mode):
        done = self._on_numpy(name, values, mode)
        if done is not None:
            return done
        return _combine(self.x, *self._prepare(values, name, mode), _TRACED[name])

    def multiply(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """x with x[idx] multiplied by values."""
        return self._combined('multiply', values, mode)

    def divide(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """x with x[idx] divided by values."""
        return self._combined('divide', values, mode)

    def power(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """x with x[idx] raised to the power values."""
        return self._combined('power', values, mode)

    def min(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """x with x[idx] = minimum(x[idx], values)."""
        return self._combined('min', values, mode)

    def max(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """x with x[idx] = maximum(x[idx], values)."""
        return self._combined('max', values, mode)

    def apply(self, func, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """x with x[idx] = func(x[idx]), func applied once to each entry named
        (func: an elementwise function of pyad.numpy)."""
        _check_mode('apply', mode)
        flat = _np.unique(_targets(self.x, self.idx).ravel())
        if flat.size == 0:
            return self.x
        return _placed(self.x, func(_take(reshape(self.x, (-1,)), flat, self.x)), flat)


def _one_update(name, x, idx, values, kwargs):
    return getattr(_Update(x, idx), name)(values, **kwargs)


_per_example_update = per_example(_one_update)


class _ExampleUpdate:
    """``x.at[idx]`` under vmap with an index that differs between examples: each
    example is updated on its own."""
    __slots__ = ('x', 'idx')

    def __init__(self, x, idx):
        self.x, self.idx = x, idx

    def __getattr__(self, name):
        if name not in ('set', 'add', 'multiply', 'divide', 'power', 'min', 'max', 'apply', 'get'):
            raise AttributeError(name)
        if name == 'get':
            return lambda **kwargs: per_example(lambda x, idx: _Update(x, idx).get(**kwargs))(
                self.x, self.idx)
        return lambda values, **kwargs: _per_example_update(name, self.x, self.idx, values, kwargs)


class _At:
    """``x.at``: index it (``x.at[idx]``) to update the entries ``x[idx]``."""
    __slots__ = ('x',)

    def __init__(self, x):
        self.x = x

    def __getitem__(self, idx):
        index = idx if isinstance(idx, tuple) else (idx,)
        if any(holds_batch(e) for e in index):
            return _ExampleUpdate(self.x, idx)     # an index that differs per example
        return _Update(self.x, idx)

    def __repr__(self):
        return f'<pyad functional updates of an array of shape {tuple(shape_of(self.x))}>'


def at(x: ArrayLike) -> Array:
    """``at(x)[idx].set(v)``, ``.add(v)``, ...: JAX's functional updates, for traced
    values and plain arrays alike (a traced value also has ``x.at``).  Returns a new
    array; x is not changed."""
    if not isinstance(x, Box) and not hasattr(x, 'shape'):
        x = _np.asarray(x)
    return _At(x)


__all__ = ['at']

"""The adjoints of one reverse sweep: one column, indexed by tape slot.

Everything the sweep does to an adjoint goes through this class, so that its
three speed mechanisms live in one place and can be switched off together
(``reference``):

* **ownership**: an adjoint the sweep made itself (a sum, a scatter buffer, a
  new array from a rule of a ``fresh`` primitive) is *owned*, and later
  contributions are summed into it in place;
* **borrowed arrays**: an array of the function's own values handed on as an
  adjoint (a partial derivative at hand, see strategies.py) is never written
  into, and is copied if it would be returned as a derivative;
* **lazy factors**: an adjoint may be ``Scaled(arr, k)``, k a Python float not
  yet applied (the cotangent of y in ``x - y`` is -1 times the result's), kept
  within the bounds of factors.py so that no chain of any length overflows.

``seed`` and ``add`` put contributions in, ``propagate`` hands a record's
adjoint to its primitive's strategy (and frees it), ``result`` reads the wanted
adjoints out.
"""
from .. import backend
from .box import Box
from .factors import fits
from .stub import StubRead

_ndarray = backend.ndarray
_IN_PLACE = backend.IN_PLACE
ZERO = object()         # writable(): no adjoint yet


class Scaled:
    """An adjoint k * arr whose factor k (a Python float) has not been applied."""
    __slots__ = ('arr', 'k')

    def __init__(self, arr, k):
        self.arr = arr
        self.k = k


_ARRAYS = frozenset((_ndarray, Scaled))     # the types of an array adjoint


class Adjoints:
    __slots__ = ('col', 'owned', 'borrowed', 'keep', 'fast')

    def __init__(self, size, keep=(), fast=True):
        self.col = [None] * size
        self.owned = bytearray(size)
        self.borrowed = {}          # id -> array: values of the tape handed on as adjoints
        self.keep = keep            # slots whose adjoint take() leaves in place
        self.fast = fast            # False: nothing in place, every factor applied at once

    def seed(self, slot, cotangent):
        if cotangent is not None:
            self.add(slot, cotangent)

    def propagate(self, tape, first, drop):
        """Hand each record's adjoint, k * g, from the tape's last record back to
        ``first``, to the strategy its primitive chose for such a cotangent
        (strategies.py), and let go of it (unless kept).  ``owned`` tells the
        strategy whether it may write into g; ``drop``: the tape's last sweep."""
        col, owned_col, keep, prims, read = self.col, self.owned, self.keep, tape.prims, tape.record
        fast = self.fast
        for r in range(len(col) - 1, first - 1, -1):
            g = col[r]
            if g is None or prims[r] is None:       # no adjoint, or a leaf
                continue
            record = read(r, drop)
            k, owned = 1.0, 0
            if not keep or r not in keep:
                col[r] = None
                owned = owned_col[r]
            tg = type(g)
            if tg is Scaled:
                g, k, tg = g.arr, g.k, _ndarray
            elif tg is list:                # the results of a record with several
                g, owned = tuple(g), 0
            pair = record[0].reverse
            if not fast and pair is not strategies.PROJECT:
                pair = strategies.REFERENCE
            try:
                (pair[0] if tg is _ndarray else pair[1])(self, record, g, k, owned)
            except StubRead as e:
                raise strategies.false_reads(record[0], e) from None

    def add(self, slot, c, k=1.0, owned=False):
        """Add k * c to slot's adjoint; ``owned``: nothing else holds c."""
        old = self.col[slot]
        to, tc = type(old), type(c)
        if k == 1.0 and tc is not _ndarray and to not in _ARRAYS:
            self.col[slot] = c if old is None else old + c     # scalars, boxes: at once
            return
        if k != 1.0:                # k * c: Scaled where the factor may stay lazy
            if tc is _ndarray and self.fast and fits(k, c.dtype):
                c, tc = Scaled(c, k), Scaled
            else:
                c, owned = self._applied(c, k, owned)
                tc = type(c)
        if old is None:
            self.col[slot] = c
            self.owned[slot] = owned and self.fast
        elif to in _ARRAYS and tc in _ARRAYS:
            self._add_arrays(slot, old, c, owned)
        else:
            self.col[slot] = _unscaled(old, self.owned[slot]) + _unscaled(c, owned)
            self.owned[slot] = 0

    def lend(self, slot, arr, k):
        """Add k * arr, arr a value of the function (never written, never returned)."""
        self.borrowed[id(arr)] = arr
        self.add(slot, arr, k, False)

    def put_part(self, parent, index, count, g, k, owned):
        """The adjoint of result ``index`` of a record with ``count`` results."""
        parts = self.col[parent]
        if parts is None:
            parts = self.col[parent] = [None] * count
        parts[index] = _apply(g, k, owned and self.fast)

    def writable(self, slot):
        """Slot's adjoint if the caller may add into it in place, ZERO where it has
        none yet, else None."""
        old = self.col[slot]
        if old is None:
            return ZERO
        if self.owned[slot] and (type(old) is _ndarray or type(old) in _IN_PLACE):
            return old
        return None

    def put(self, slot, buf):
        """A new buffer the caller made for slot's adjoint (which was zero)."""
        self.col[slot] = buf
        self.owned[slot] = self.fast

    def result(self, slots):
        out = []
        for s in slots:
            a = self.col[s]
            owned = self.owned[s]
            if type(a) is Scaled:
                a, owned = self._applied(a.arr, a.k, owned)
            if self.borrowed and not owned and a is not None and self.borrowed.get(id(a)) is a:
                a = a.copy()        # a value of the function is not its derivative's buffer
            out.append(a)
        return out

    # -- the mechanics -----------------------------------------------------------
    def _add_arrays(self, slot, old, c, c_owned):
        old_owned = self.owned[slot]
        ko = kc = 1.0
        if type(old) is Scaled:
            old, ko = old.arr, old.k
        if type(c) is Scaled:
            c, kc = c.arr, c.k
        if ko != kc and ko != -kc and _alike(old, c):
            # bring one to the other's factor (in place where owned), then one sum
            if c_owned:
                c *= kc / ko
                kc = ko
            elif old_owned:
                old *= ko / kc
                ko = kc
        if ko == kc or ko == -kc:
            total, owned = self._sum(old, old_owned, c, c_owned, ko != kc)
            self.col[slot] = total if ko == 1.0 else Scaled(total, ko)
        else:
            old, old_owned = self._applied(old, ko, old_owned)
            c, c_owned = self._applied(c, kc, c_owned)
            total, owned = self._sum(old, old_owned, c, c_owned, False)
            self.col[slot] = total
        self.owned[slot] = owned

    def _applied(self, arr, k, owned):
        """(k * arr, whether the sweep owns it)."""
        if k == 1.0:
            return arr, owned
        out = _apply(arr, k, owned and self.fast)
        return out, self.fast and type(out) is _ndarray and out.base is None

    def _sum(self, old, old_owned, c, c_owned, subtract):
        """old + c (old - c if subtract), in place into whichever is owned."""
        if self.fast and old.shape == c.shape and old.dtype == c.dtype:
            if old_owned:
                if subtract:
                    old -= c
                else:
                    old += c
                return old, 1
            if c_owned:
                if subtract:
                    return backend.subtract_into(old, c), 1
                c += old
                return c, 1
        new = old - c if subtract else old + c
        return new, self.fast


def _alike(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and a.dtype.kind == 'f' and \
        type(a) is _ndarray and type(b) is _ndarray


def _unscaled(c, owned):
    return _apply(c.arr, c.k, owned) if type(c) is Scaled else c


def _apply(arr, k, owned):
    """k * arr, into arr itself if owned."""
    if k == 1.0:
        return arr
    if type(arr) is _ndarray:
        s = backend.scalar_of_broadcast(arr)
        if s is not None:
            return backend.broadcast_scalar(s * k, arr)     # still a view: no pass
        if owned and arr.dtype.kind == 'f' and arr.flags.writeable:
            arr *= k
            return arr
        return arr * arr.dtype.type(k) if arr.dtype.kind == 'f' else arr * k
    if isinstance(arr, Box) or type(arr) is float:
        return arr * k
    dtype = getattr(arr, 'dtype', None)
    if dtype is not None and dtype.kind == 'f':
        return arr * dtype.type(k)          # keeps float32 float32 (NumPy and CuPy)
    return arr * k


from . import strategies    # noqa: E402  (strategies.py imports ZERO from here)

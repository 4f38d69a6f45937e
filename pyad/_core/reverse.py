"""Reverse mode: a flat, columnar tape (Wengert list) per operator call, swept
in reverse.

Every slot of the tape is one value: an input of the differentiated function
(a leaf) or the result of one primitive application (a record).  Slot and
record share one index, so a record needs no output field.  The tape is kept
in columns rather than one object per record, because the tape of a long scalar
loop is mostly these records and a Python object per record would cost several
times the memory of the values themselves:

    vals[r]    the value of slot r (a leaf's value, or the record's answer)
    prims[r]   the primitive (None for a leaf; _PROJ for one result of a
               primitive with several results)
    in0[r], in1[r]   machine ints describing arguments 0 and 1:
               >= 0   the slot of a traced argument (its primal is vals[slot]);
               <= -2  a constant argument, consts[-2 - i];
               -1     no such argument (in1 of a unary record), or, in in0,
                      a record described by ext[r] instead
    consts     constant arguments of simple records
    ext[r]     (primals, params, positions, slots) for the other records: with
               parameters, with more than two arguments, or with several results

Values no recorded rule will read are not kept: a primitive declares in
``saves`` what its VJP reads (the answer, the arguments, or only shapes), and an
array of at least STUB_BYTES that nothing reads is replaced on the tape by a
Stub (its shape and dtype).  A later record whose rule reads its arguments puts
the value back, from the variable it was given.  Intermediates that a sweep
does not need are then freed while the function runs, as they would be without
differentiation; a large vectorised function holds far less memory at its peak.

A record of a primitive with several results holds the tuple of answers; each
result then gets a _PROJ record (in0 = the parent record, in1 = the result's
index), so that every value the user sees still has its own slot.

The sweep walks the records backwards in a plain loop (no recursion, so a tape
of millions of records is fine), skips records whose output received no
cotangent (symbolic zeros), frees each adjoint as soon as it has been
propagated, and reads the adjoints of the inputs by their slots.
"""
from array import array

from numpy import ndarray, subtract as _np_subtract

from .box import Box, TapeVar, LazyVar, Pending, pending

_FIRST = (0,)
_SECOND = (1,)
_BOTH = (0, 1)
_NO_PARAMS = {}
_PROJ = object()        # prims[r] of one result of a multiple-results record


# arrays smaller than this are kept even when no rule reads them (a stub would
# save little and cost a little time)
STUB_BYTES = 1 << 16


class Stub:
    """Stands on a tape for an array that no recorded rule reads: only its shape
    and dtype, which rules use to unbroadcast and to cast."""
    __slots__ = ('shape', 'dtype')

    def __init__(self, value):
        self.shape = value.shape
        self.dtype = value.dtype

    @classmethod
    def of(cls, shape, dtype):
        stub = cls.__new__(cls)
        stub.shape = shape
        stub.dtype = dtype
        return stub

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __array__(self, *args, **kwargs):
        raise RuntimeError('pyad internal error: a VJP rule read a value its primitive '
                           'declared it does not read (Primitive.saves)')


def _stub(value):
    if type(value) is ndarray and value.nbytes >= STUB_BYTES:
        return Stub(value)
    if type(value) is Pending:
        return Stub.of(value.shape, value.dtype) if value.thunk is not None else \
            _stub(value.value)
    return value


_KEEPS_ANS = (None, 'ans')


class Tape:
    __slots__ = ('vals', 'prims', 'in0', 'in1', 'consts', 'ext', 'stubbed', 'swept_last',
                 'deferred')

    def __init__(self):
        self.vals = []
        self.prims = []
        self.in0 = array('i')
        self.in1 = array('i')
        self.consts = []
        self.ext = {}
        self.stubbed = False       # whether some value in vals is a Stub
        self.swept_last = False    # swept with last=True: values dropped
        self.deferred = False      # whether some value was deferred (a LazyVar)

    def input(self, primal, tag):
        """A fresh variable with no record: an input of the differentiated function."""
        slot = len(self.vals)
        self._append(primal, None, -1, -1)
        return TapeVar(primal, tag, slot)

    def _append(self, value, prim, i0, i1):
        self.vals.append(value)
        self.prims.append(prim)
        self.in0.append(i0)
        self.in1.append(i1)

    def __len__(self):
        """The number of records (leaves not counted)."""
        return len(self.prims) - self.prims.count(None)


def process(prim, args, params, tag):
    tape = tag.tape
    n = len(args)
    if n <= 2 and not params and not prim.multiple_results:
        # (the two arguments are encoded inline, not by a helper: this is the hot
        # path of scalar code, where a call per argument costs a few per cent)
        a = args[0]
        ta = type(a)
        if ta is TapeVar and a.tag is tag:
            pa = a.primal
            i0 = a.index
        elif ta is LazyVar and a.tag is tag:
            pa = a if pending(a) else a.primal      # pending: the variable itself
            i0 = a.index
        else:
            pa = a
            i0 = -2 - len(tape.consts)
            tape.consts.append(a)
        if n == 1:
            pb = None
            i1 = -1
        else:
            b = args[1]
            tb = type(b)
            if tb is TapeVar and b.tag is tag:
                pb = b.primal
                i1 = b.index
            elif tb is LazyVar and b.tag is tag:
                pb = b if pending(b) else b.primal
                i1 = b.index
            else:
                pb = b
                i1 = -2 - len(tape.consts)
                tape.consts.append(b)
        vals = tape.vals
        slot = len(vals)
        out = None
        if prim.defer is not None and (type(pa) is ndarray or type(pa) is LazyVar or
                                       type(pb) is ndarray or type(pb) is LazyVar):
            out = _defer(prim, (pa,) if n == 1 else (pa, pb), _NO_PARAMS, tag, slot,
                         tuple(i for i, s in enumerate((i0, i1)[:n]) if s >= 0))
        if out is not None:
            value = out.stub
            out = out.var
            # the arguments as the pending value holds them: values, or Pending
            # nodes (what the tape keeps: they refer to no tape, so no cycle)
            if n == 2:
                pa, pb = out.node.thunk[1]
            else:
                pa = out.node.thunk[1][0]
            tape.stubbed = True
        else:
            if pa is a and i0 >= 0:         # a pending variable of this tape
                pa = a.primal
            if n == 2 and pb is b and i1 >= 0:
                pb = b.primal
            if n == 1:
                ans = prim(pa) if isinstance(pa, Box) else prim.impl(pa)
            elif isinstance(pa, Box) or isinstance(pb, Box):
                ans = prim(pa, pb)
            else:
                ans = prim.impl(pa, pb)
            value = ans
            if type(ans) is ndarray and prim.saves is not None and prim.saves != 'ans' and \
                    ans.nbytes >= STUB_BYTES:
                value = Stub(ans)
                tape.stubbed = True
        saves = prim.saves
        if tape.stubbed and (saves is None or saves == 'args' or
                             (saves == 'other' and i0 >= 0 and i1 >= 0)):
            # put back the values this record's rules will read (a pending variable
            # goes back as it is: the sweep computes it when it reads it)
            if i0 >= 0 and type(vals[i0]) is Stub:
                vals[i0] = pa
            if i1 >= 0 and type(vals[i1]) is Stub:
                vals[i1] = pb
        vals.append(value)
        tape.prims.append(prim)
        tape.in0.append(i0)
        tape.in1.append(i1)
        return out if out is not None else TapeVar(ans, tag, slot)
    return _process_ext(prim, args, params, tag)


# Deferred values.  A primitive with a ``defer`` rule (elementwise arithmetic and
# sums, whose rules do not read their answer) may, on plain arrays of at least
# DEFER_BYTES, return a LazyVar instead of computing its answer: the value is
# computed when something first reads it (an operation that is not deferred, the
# user, a rule in the sweep), and a value nothing reads is never computed -- the
# value of f under grad, the primal chain under hessianv.  Chains are cut at
# MAX_DEFER_DEPTH so that a pending value holds a bounded number of operands.
DEFER_BYTES = 1 << 16
MAX_DEFER_DEPTH = 16


class _Deferred:
    __slots__ = ('var', 'stub')

    def __init__(self, var, stub):
        self.var = var
        self.stub = stub


def _defer(prim, primals, params, tag, slot, traced):
    """A _Deferred(LazyVar, Stub) for prim on primals, or None to compute it now.
    primals holds plain values and pending LazyVars of tag; ``traced``: the
    positions of the arguments that are variables of the tape."""
    depth = 0
    for p in primals:
        if isinstance(p, Box):
            if p.tag is not tag or not pending(p):
                return None         # a value boxed at another level: computed now
            if p.node.depth > depth:
                depth = p.node.depth
    spec = prim.defer(primals, params, traced)
    if spec is None:
        return None
    shape, dtype = spec
    if depth == 0:
        size = dtype.itemsize
        for d in shape:
            size *= d
        if size < DEFER_BYTES:
            return None
    if depth >= MAX_DEFER_DEPTH:
        primals = tuple(p.primal if type(p) is LazyVar else p for p in primals)
        depth = 0
    else:
        primals = tuple(p.node if type(p) is LazyVar else p for p in primals)
    from numpy import geterr
    tag.tape.deferred = True
    node = Pending((prim.impl, primals, params, geterr()), shape, dtype, depth + 1)
    return _Deferred(LazyVar(node, tag, slot), Stub.of(shape, dtype))


def _real(v):
    """A value kept on a tape, computed if it was deferred."""
    return v.get() if type(v) is Pending else v


def _process_ext(prim, args, params, tag):
    """A record described in ``ext``: parameters, more than two arguments, or
    several results."""
    tape = tag.tape
    primals = []
    positions = []
    slots = []
    boxed = False
    has_pending = False
    for i, a in enumerate(args):
        ta = type(a)
        if (ta is TapeVar or ta is LazyVar) and a.tag is tag:
            a_primal = a if ta is LazyVar and pending(a) else a.primal
            positions.append(i)
            slots.append(a.index)
            has_pending = has_pending or a_primal is a      # a pending variable of this tape
        else:
            a_primal = a
        primals.append(a_primal)
    primals = tuple(primals)
    slot = len(tape.vals)
    out = None
    if prim.defer is not None and not prim.multiple_results:
        out = _defer(prim, primals, params, tag, slot, tuple(positions))
    if out is not None:
        primals = out.var.node.thunk[1]
        ans = out.var
        value = out.stub
    else:
        if has_pending:
            primals = list(primals)
            for i in positions:
                if primals[i] is args[i]:
                    primals[i] = args[i].primal
            primals = tuple(primals)
        for p in primals:
            if isinstance(p, Box):
                boxed = True
                break
        ans = prim(*primals, **params) if boxed else prim.impl(*primals, **params)
        value = None
    saves = prim.saves
    kept = primals
    if saves is not None and saves != 'args' and not (saves == 'other' and len(positions) > 1):
        # the rules read none of the traced arguments: keep their shapes only
        kept = list(primals)
        for i in positions:
            kept[i] = _stub(kept[i])
        kept = tuple(kept)
    tape.ext[slot] = (kept, params or _NO_PARAMS, tuple(positions), tuple(slots))
    if value is None:
        value = ans if saves in _KEEPS_ANS or prim.multiple_results else _stub(ans)
    if value is not ans:
        tape.stubbed = True
    tape._append(value, prim, -1, -1)
    if out is not None:
        return ans
    if not prim.multiple_results:
        return TapeVar(ans, tag, slot)
    out = []
    for k, a in enumerate(ans):
        out.append(TapeVar(a, tag, len(tape.vals)))
        tape._append(a, _PROJ, slot, k)
    return type(ans)(out)


def sweep(tape, seeds, wanted, last=False):
    """Propagate cotangents backwards through ``tape``.

    ``seeds``: list of (slot, cotangent); ``wanted``: the slots whose adjoints
    are returned (None where no cotangent reached them: a symbolic zero).
    The tape is left intact, so a pullback may sweep it again, unless ``last``:
    then each record's values are dropped once it has been swept (no record
    before it reads them), which lowers the sweep's peak memory.

    Adjoints are summed in place where that is safe: into a buffer that nothing
    outside the sweep can see: one the sweep created itself (an earlier sum, a
    scatter buffer), or a new array returned by the rule of a primitive that
    declares ``vjp_fresh`` (checked: not a view, not the rule's inputs, not
    handed to two slots), or such a buffer passed on unchanged as the cotangent
    of the one argument of a record.

    Constant factors are kept lazily: an adjoint may be a Scaled(array, k), as
    the cotangent of y in x - y is -1 times that of the result (primitives say
    so with ``vjp_scale``).  A VJP rule is linear in its cotangent, so a rule of
    a vjp_fresh primitive runs on the array and its results carry k on; k is
    applied where two adjoints with different factors meet, by the indexing
    shortcut, or at the end.  A negation or a scaling by a constant then costs
    no pass over the array.
    """
    if tape.swept_last:
        raise RuntimeError('pyad internal error: a tape was swept after its last sweep')
    tape.swept_last = last
    vals, prims, in0, in1, consts, ext = (tape.vals, tape.prims, tape.in0, tape.in1,
                                          tape.consts, tape.ext)
    size = len(vals)
    adjoint = [None] * size
    owned = bytearray(size)
    borrowed = {}       # id -> array: values of the tape passed on as adjoints
    deferred = tape.deferred
    for slot, ct in seeds:
        if ct is not None:
            _give(adjoint, owned, slot, ct, 0)
    # adjoints are freed once propagated, except those asked for (usually leaves,
    # which have no record and are never freed anyway)
    keep = {s for s in wanted if prims[s] is not None}
    first = min(wanted, default=0)     # nothing before the earliest wanted slot matters
    if keep:
        first = 0
    for r in range(size - 1, first - 1, -1):
        g = adjoint[r]
        if g is None:
            continue
        prim = prims[r]
        if prim is None:            # a leaf
            continue
        if not keep or r not in keep:
            adjoint[r] = None
        k = 1.0
        g_owned = 0
        tg = type(g)
        if tg is Scaled:
            g, k = g.arr, g.k
            tg = ndarray
        a = in0[r]
        if prim is _PROJ:           # one result of a record with several results
            parts = adjoint[a]
            if parts is None:
                parts = adjoint[a] = [None] * len(vals[a])
            parts[in1[r]] = g if k == 1.0 else _apply_scale(
                g, k, owned[r] and not (keep and r in keep))
            continue
        if tg is ndarray:
            # owned[r] still says whether the sweep owns g (unless g is kept)
            g_owned = owned[r] and not (keep and r in keep)
            if k != 1.0 and not prim.vjp_fresh:     # its rules are not known to be linear
                g, k, g_owned = _apply_scale(g, k, g_owned), 1.0, 1
        if a == -1:
            primals, params, positions, slots = ext.pop(r) if last else ext[r]
            if type(g) is list:
                g = tuple(g)
        else:
            params = _NO_PARAMS
            b = in1[r]
            if b == -1:
                primals, positions, slots = (vals[a],), _FIRST, (a,)
            elif a >= 0:
                if b >= 0:
                    primals, positions, slots = (vals[a], vals[b]), _BOTH, (a, b)
                else:
                    primals, positions, slots = (vals[a], consts[-2 - b]), _FIRST, (a,)
            else:
                primals, positions, slots = (consts[-2 - a], vals[b]), _SECOND, (b,)
        if deferred:
            # values computed only now, when a rule reads them (see _defer)
            for p in primals:
                if type(p) is Pending:
                    primals = tuple(_real(p) for p in primals)
                    break
            ans = _real(vals[r])
        else:
            ans = vals[r]
        if last:
            vals[r] = None
        if tg is ndarray and prim.vjp_scale is not None:
            # the cotangent of each argument is a constant times g: no pass at all
            # (except that a view of g, e.g. a broadcast scalar, that would need a
            # factor goes to the rules, which keep it a view of the scaled scalar)
            factors = prim.vjp_scale(ans, primals, positions)
            if factors is not None and (k != 1.0 or g.base is None or
                                        all(f == 1.0 for f in factors)):
                single = len(slots) == 1
                for slot, f in zip(slots, factors):
                    f = k * f
                    _give(adjoint, owned, slot, g if f == 1.0 else Scaled(g, f),
                          g_owned and single)
                continue
        if tg is ndarray and prim.vjp_partial is not None:
            # an elementwise partial that is a constant times an array at hand
            parts = prim.vjp_partial(g, ans, primals, params, positions)
            if parts is not None:
                for slot, (f, arr, fresh) in zip(slots, parts):
                    if not fresh:
                        borrowed[id(arr)] = arr
                    f *= k
                    _give(adjoint, owned, slot, arr if f == 1.0 else Scaled(arr, f), fresh)
                continue
        add_into = prim.vjp_add_into
        if add_into is not None and not isinstance(g, Box):
            # e.g. indexing: add g into the parent's buffer at the index, instead
            # of scattering into fresh zeros and summing those
            slot = slots[0]
            buf = adjoint[slot]
            if buf is None:
                buf = add_into(None, g, ans, primals, params, k)
                if buf is not None:
                    adjoint[slot] = buf
                    owned[slot] = 1
                    continue
            elif owned[slot] and type(buf) is not Scaled:
                if k != 1.0 and g_owned and g.dtype.kind == 'f':
                    g *= k          # scaled where it lies, not into a temporary
                    k = 1.0
                if add_into(buf, g, ans, primals, params, k) is not None:
                    continue
        if len(slots) == 1 and prim.vjp_joint is None and prim.vjps is not None:
            # one traced argument and a rule per argument: call the rule directly
            # (Primitive.apply_vjp does the same, with the error reporting)
            rules = prim.vjps
            p = positions[0]
            rule = rules[p] if p < len(rules) else None
            if rule is None:
                prim.apply_vjp(g, ans, primals, params, positions)     # raises
            c = rule(g, ans, *primals, **params)
            if c is not None:
                slot = slots[0]
                if tg is not ndarray:           # a scalar (or a box): the cheap case
                    if adjoint[slot] is None:
                        adjoint[slot] = c
                        owned[slot] = 0
                    else:
                        _give(adjoint, owned, slot, c, 0)
                elif type(c) is ndarray:
                    c_owned = prim.vjp_fresh and _fresh(c, g, g_owned, ans, primals)
                    _give(adjoint, owned, slot, c if k == 1.0 else Scaled(c, k), c_owned)
                else:
                    _give(adjoint, owned, slot, c if k == 1.0 else c * k, 0)
            continue
        contributions = prim.apply_vjp(g, ans, primals, params, positions)
        if tg is not ndarray:
            for slot, c in zip(slots, contributions):
                if c is not None:
                    if adjoint[slot] is None:
                        adjoint[slot] = c
                        owned[slot] = 0
                    else:
                        _give(adjoint, owned, slot, c, 0)
            continue
        if type(contributions) is not tuple and type(contributions) is not list:
            contributions = tuple(contributions)
        fresh = prim.vjp_fresh
        for i, slot in enumerate(slots):
            c = contributions[i]
            if c is None:
                continue
            if type(c) is ndarray:
                c_owned = fresh and _fresh(c, g, 0, ans, primals) and _alone(c, contributions)
                _give(adjoint, owned, slot, c if k == 1.0 else Scaled(c, k), c_owned)
            else:
                _give(adjoint, owned, slot, c if k == 1.0 else c * k, 0)
    out = []
    for s in wanted:
        a = adjoint[s]
        if type(a) is Scaled:
            a = _apply_scale(a.arr, a.k, owned[s])
        if not owned[s] and id(a) in borrowed and borrowed[id(a)] is a:
            a = a.copy()        # a value of the function is not its derivative's buffer
        out.append(a)
    return out


class Scaled:
    """An adjoint k * arr whose factor k (a Python float) has not been applied."""
    __slots__ = ('arr', 'k')

    def __init__(self, arr, k):
        self.arr = arr
        self.k = k


def _apply_scale(arr, k, arr_owned):
    if k == 1.0:
        return arr
    if arr_owned and type(arr) is ndarray and arr.dtype.kind == 'f':
        arr *= k
        return arr
    if type(arr) is ndarray:
        return arr * arr.dtype.type(k)      # keeps float32 float32
    return arr * k


def _give(adjoint, owned, slot, c, c_owned):
    """Add the contribution c (owned by the sweep if c_owned) to slot's adjoint."""
    old = adjoint[slot]
    if old is None:
        adjoint[slot] = c
        owned[slot] = c_owned
        return
    to, tc = type(old), type(c)
    if to is not ndarray and to is not Scaled and tc is not ndarray and tc is not Scaled:
        adjoint[slot] = old + c        # scalars (or boxes, at higher order)
        owned[slot] = 0
        return
    ko = kc = 1.0
    if type(old) is Scaled:
        old, ko = old.arr, old.k
    if type(c) is Scaled:
        c, kc = c.arr, c.k
    if ko != 1.0 or kc != 1.0:
        if ko == kc or ko == -kc:
            # ko (old ± c): one pass, the factor stays lazy
            total, total_owned = _sum(old, owned[slot], c, c_owned, ko != kc)
            if ko == 1.0:
                adjoint[slot] = total
            elif type(total) is ndarray:
                adjoint[slot] = Scaled(total, ko)
            else:
                adjoint[slot] = total * ko
            owned[slot] = total_owned
            return
        if ko != 0.0 and kc != 0.0 and type(old) is ndarray and type(c) is ndarray and \
                old.dtype.kind == 'f' and old.shape == c.shape and old.dtype == c.dtype and \
                (c_owned or owned[slot]):
            # one pass to bring one to the other's factor, in place, and one to sum
            if c_owned:
                c *= kc / ko
            else:
                old *= ko / kc
                ko = kc
            total, total_owned = _sum(old, owned[slot], c, c_owned, False)
            adjoint[slot] = total if ko == 1.0 else Scaled(total, ko)
            owned[slot] = total_owned
            return
        if ko != 1.0:
            old = _apply_scale(old, ko, owned[slot])
            owned[slot] = type(old) is ndarray
        c = _apply_scale(c, kc, c_owned)
        c_owned = c_owned or kc != 1.0
    adjoint[slot], owned[slot] = _sum(old, owned[slot], c, c_owned, False)


def _sum(old, old_owned, c, c_owned, subtract):
    """old + c (old - c if subtract), in place into whichever is owned; returns the
    sum and whether the sweep owns it."""
    # (in place only for plain ndarrays: a sum with another array type, e.g. a
    # subclass, takes that type, as old + c would)
    if (type(old) is ndarray and type(c) is ndarray
            and c.shape == old.shape and c.dtype == old.dtype):
        if old_owned:
            if subtract:
                old -= c
            else:
                old += c
            return old, 1
        if c_owned and type(c) is ndarray:
            if subtract:
                return _np_subtract(old, c, out=c), 1
            c += old
            return c, 1
    new = old - c if subtract else old + c
    return new, type(new) is ndarray


def _fresh(c, g, g_owned, ans, primals):
    """Whether c, returned by a vjp_fresh rule, is an array only the sweep holds."""
    if type(c) is not ndarray or c.base is not None:
        return False                # not an array, or a view of another one
    if c is g:
        return g_owned              # passed on: owned if g was
    if c is ans:
        return False
    for p in primals:
        if c is p:
            return False
    return True


def _alone(c, contributions):
    """c is not also another argument's cotangent, nor viewed by one."""
    n = 0
    for d in contributions:
        if d is c:
            n += 1
        elif getattr(d, 'base', None) is c:
            return False
    return n == 1

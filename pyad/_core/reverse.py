"""Reverse mode: a flat, columnar tape (Wengert list) per operator call, swept
backwards.

Every slot of the tape is one value: an input of the differentiated function
(a leaf) or the result of one primitive application (a record).  Slot and
record share one index.  ``Tape.add`` records, ``Tape.record(r)`` reads a record
back as ``(prim, ans, primals, params, positions, slots)``: the primitive, its
answer, its arguments (plain values at this tape's level), its parameters, the
positions of the traced arguments and their slots.  How that is encoded is the
tape's own business (below); nothing else reads the columns.

The sweep is then a short loop: for each record with an adjoint, newest first,
read the record, take its adjoint, and let the primitive's strategy
(strategies.py) add each argument's share; adjoints.py owns the adjoints.

Encoding.  The tape of a long scalar loop is mostly records, so they are kept in
columns rather than one object each:

    vals[r]    the value of slot r (a leaf's value, or the record's answer)
    prims[r]   the primitive (None for a leaf; PROJECTION for one result of a
               primitive with several results)
    in0[r], in1[r]   arguments 0 and 1: >= 0 the slot of a traced argument,
               <= -2 the constant consts[-2 - i], -1 no such argument (in1 of a
               unary record) or, in in0, a record described by ext[r]
    ext[r]     (primals, params, positions, slots) for the other records: with
               parameters, with more than two arguments, or with several results

Values no recorded rule reads are not kept: a primitive declares in its
``reads`` trait what its VJP reads, and an array of at least
``settings.stub_bytes`` that nothing reads is replaced by a Stub (shape and
dtype).  A later record whose rule reads its arguments puts the value back.

Deferred values.  A primitive with a ``defer`` trait may, on plain arrays of at
least ``settings.defer_bytes``, record a LazyVar instead of computing its
answer: it is computed when something first reads it (an operation that is not
deferred, the user, a rule in the sweep), under the floating-point settings of
the recording call, and a value nothing reads is never computed -- the value of
f under grad, the primal chain under hessianv.  Chains are cut at
MAX_DEFER_DEPTH so that a pending value holds a bounded number of operands.
"""
from array import array

from .. import backend
from .adjoints import Adjoints
from .box import Box, TapeVar, LazyVar, Pending, pending, shape_of, \
    BOX_OR_ARRAY_TYPES
from .config import settings
from .stub import Stub, StubRead
from .strategies import PROJECT
from .traits import TraitError, Traits

_FIRST = (0,)
_SECOND = (1,)
_BOTH = (0, 1)
_NO_PARAMS = {}
_ndarray = backend.ndarray
MAX_DEFER_DEPTH = 16
_READS_ARGS = ('all', 'args')
_KEEPS_ANS = ('all', 'ans')


class _Projection:
    """prims[r] of one result of a record with several results."""
    name = 'projection'
    traits = Traits()
    reverse = PROJECT


PROJECTION = _Projection()


def _stub(value):
    """What the tape keeps of a value no rule reads."""
    if type(value) is Pending:
        if value.thunk is None:
            return _stub(value.value)
        return Stub(value.shape, value.dtype)
    if type(value) is backend.ndarray and value.nbytes >= settings.stub_bytes:
        return Stub(value.shape, value.dtype)
    return value


def _real(v):
    """A value kept on a tape, computed if it was deferred."""
    return v.get() if type(v) is Pending else v


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
        self.deferred = False      # whether some value was deferred (a Pending)

    def __len__(self):
        """The number of records (leaves not counted)."""
        return len(self.prims) - self.prims.count(None)

    def input(self, primal, tag):
        """A fresh variable with no record: an input of the differentiated function."""
        self._append(primal, None, -1, -1)
        return TapeVar(primal, tag, len(self.vals) - 1)

    def _append(self, value, prim, i0, i1):
        self.vals.append(value)
        self.prims.append(prim)
        self.in0.append(i0)
        self.in1.append(i1)

    # -- recording ---------------------------------------------------------------
    def add(self, prim, args, tag):
        """Record prim applied to one or two arguments (some of them variables of
        this tape), no parameters; return the result's variable.  (Other records:
        add_ext.)  The hot path of scalar code, inline; this tape's pending values
        and arrays that may be deferred take _add_lazy."""
        a = args[0]
        b = args[1] if len(args) == 2 else None
        pa = a.primal if type(a) is TapeVar and a.tag is tag else a
        pb = b.primal if type(b) is TapeVar and b.tag is tag else b
        apply = prim.impl
        if type(pa) in BOX_OR_ARRAY_TYPES or type(pb) in BOX_OR_ARRAY_TYPES:
            apply = _how_to_apply(prim, pa, pb, tag)
            if apply is None:
                return self._add_lazy(prim, args, tag)
        i0 = a.index if pa is not a else self._constant(a)
        if b is None:
            i1, ans = -1, apply(pa)
        else:
            i1 = b.index if pb is not b else self._constant(b)
            ans = apply(pa, pb)
        value = ans
        if self.stubbed or type(ans) is _ndarray and ans.nbytes >= settings.stub_bytes:
            value = self._kept_answer(prim, ans, (pa, pb), i0, i1)
        vals = self.vals
        vals.append(value)
        self.prims.append(prim)
        self.in0.append(i0)
        self.in1.append(i1)
        return TapeVar(ans, tag, len(vals) - 1)

    def _kept_answer(self, prim, ans, primals, i0, i1):
        """What the tape keeps of an answer (a stub where no rule reads it), the
        arguments this record's rules read put back."""
        value = ans
        if type(ans) is _ndarray and prim.traits.reads not in _KEEPS_ANS:
            value = _stub(ans)
            self.stubbed = self.stubbed or value is not ans
        self._keep_read_args(prim, primals, i0, i1)
        return value

    def _constant(self, c):
        self.consts.append(c)
        return -1 - len(self.consts)

    def _add_lazy(self, prim, args, tag):
        """A record of one or two arguments that may be deferred or read deferred values."""
        pa, i0 = self._encode(args[0], tag)
        if len(args) == 1:
            i1, primals = -1, (pa,)
        else:
            pb, i1 = self._encode(args[1], tag)
            primals = (pa, pb)
        slot = len(self.vals)
        var = self._defer(prim, primals, _NO_PARAMS, tag, slot)
        if var is not None:
            value = Stub(var.node.shape, var.node.dtype)
            primals = var.node.thunk[1]     # values, or Pending nodes: no cycle
            self.stubbed = True
        else:
            primals = _compute_pending(primals, tag)
            ans = _apply(prim, primals, _NO_PARAMS)
            value = ans if prim.traits.reads in _KEEPS_ANS else _stub(ans)
            var = TapeVar(ans, tag, slot)
            if value is not ans:
                self.stubbed = True
        self._keep_read_args(prim, primals, i0, i1)
        self._append(value, prim, i0, i1)
        return var

    def _encode(self, a, tag):
        """(primal, index) of one argument: a pending variable stays itself."""
        ta = type(a)
        if (ta is TapeVar or ta is LazyVar) and a.tag is tag:
            return (a if pending(a) else a.primal), a.index
        return a, self._constant(a)

    def _keep_read_args(self, prim, primals, i0, i1):
        """Put back the arguments this record's rules read, if they were stubbed."""
        reads = prim.traits.reads
        if not self.stubbed or not (reads in _READS_ARGS or (reads == 'other' and i0 >= 0 and i1 >= 0)):
            return
        vals = self.vals
        if i0 >= 0 and type(vals[i0]) is Stub:
            vals[i0] = primals[0]
        if i1 >= 0 and type(vals[i1]) is Stub:
            vals[i1] = primals[1]

    def add_ext(self, prim, args, params, tag):
        """Record a primitive with parameters, more than two arguments or several
        results."""
        primals, positions, slots = [], [], []
        for i, a in enumerate(args):
            if (type(a) is TapeVar or type(a) is LazyVar) and a.tag is tag:
                positions.append(i)
                slots.append(a.index)
                a = a if pending(a) else a.primal
            primals.append(a)
        slot = len(self.vals)
        positions, slots = tuple(positions), tuple(slots)
        var = None
        if not prim.multiple_results:
            var = self._defer(prim, tuple(primals), params, tag, slot)
        if var is not None:
            ans, primals = var, var.node.thunk[1]
        else:
            primals = _compute_pending(primals, tag) if self.deferred else tuple(primals)
            ans = _apply(prim, primals, params)
        self.ext[slot] = (self._kept(prim, primals, positions), params or _NO_PARAMS,
                          positions, slots)
        return self._append_result(prim, ans, var, tag, slot)

    def _kept(self, prim, primals, positions):
        """The arguments as the tape keeps them: stubs for traced ones no rule reads."""
        reads = prim.traits.reads
        if reads in _READS_ARGS or (reads == 'other' and len(positions) > 1):
            return primals
        kept = list(primals)
        for i in positions:
            kept[i] = _stub(kept[i])
            self.stubbed = self.stubbed or kept[i] is not primals[i]
        return tuple(kept)

    def _append_result(self, prim, ans, var, tag, slot):
        if var is not None:
            value = Stub(var.node.shape, var.node.dtype)
        elif prim.traits.reads in _KEEPS_ANS or prim.multiple_results:
            value = ans
        else:
            value = _stub(ans)
        self.stubbed = self.stubbed or value is not ans
        self._append(value, prim, -1, -1)
        if var is not None:
            return var
        if not prim.multiple_results:
            return TapeVar(ans, tag, slot)
        out = []
        for k, a in enumerate(ans):
            out.append(TapeVar(a, tag, len(self.vals)))
            self._append(a, PROJECTION, slot, k)
        return type(ans)(out)

    def custom(self, tag, inputs, values, vjp, name='custom'):
        """Record values computed outside the tape (a public extension point: the
        fixed-point operator's reverse rule is one).  ``values`` (a list of plain
        values, or values boxed at older tags) depend on ``inputs``, variables of
        this tape; ``vjp(cotangents) -> [cotangent of each input]`` takes one
        cotangent per value (None for a zero) and must be written with pyad
        primitives if it is to be differentiated again.  Returns one variable
        per value."""
        several = len(values) > 1
        prim = _custom_primitive(name, several)
        slot = len(self.vals)
        self.ext[slot] = (tuple(Stub(shape_of(v), v.dtype) for v in inputs), {'vjp': vjp},
                          tuple(range(len(inputs))), tuple(v.index for v in inputs))
        out = self._append_result(prim, tuple(values) if several else values[0], None, tag, slot)
        return list(out) if several else [out]

    # -- deferral ----------------------------------------------------------------
    def _defer(self, prim, primals, params, tag, slot):
        """A LazyVar for prim on primals, or None to compute it now."""
        depth = _defer_depth(prim, primals, tag)
        if depth is None:
            return None
        spec = prim.traits.defer(primals, params)
        if spec is None:
            return None
        if depth >= MAX_DEFER_DEPTH:                    # a chain is cut here
            primals = tuple(p.primal if type(p) is LazyVar else p for p in primals)
            depth = 0
        else:
            primals = tuple(p.node if type(p) is LazyVar else p for p in primals)
        self.deferred = True
        node = Pending((prim, primals, params, backend.float_errors()), spec[0], spec[1],
                       depth + 1)
        return LazyVar(node, tag, slot)

    # -- reading back ------------------------------------------------------------
    def record(self, r, drop=False):
        """(prim, ans, primals, params, positions, slots) of record r, deferred
        values computed; ``drop``: the tape lets go of them (its last sweep)."""
        vals = self.vals
        prim = self.prims[r]
        a, b = self.in0[r], self.in1[r]
        params = _NO_PARAMS
        if prim is PROJECTION:
            primals, positions, slots, ans = (), (b,), (a,), vals[a]
        elif a == -1:
            primals, params, positions, slots = self.ext.pop(r) if drop else self.ext[r]
        elif b == -1:
            primals, positions, slots = (vals[a],), _FIRST, (a,)
        elif b >= 0:
            if a >= 0:
                primals, positions, slots = (vals[a], vals[b]), _BOTH, (a, b)
            else:
                primals, positions, slots = (self.consts[-2 - a], vals[b]), _SECOND, (b,)
        else:
            primals, positions, slots = (vals[a], self.consts[-2 - b]), _FIRST, (a,)
        if prim is not PROJECTION:
            ans = vals[r]
        if drop:
            vals[r] = None
        if self.deferred:
            primals = tuple(_real(p) for p in primals)
            ans = _real(ans)
        return prim, ans, primals, params, positions, slots


def _how_to_apply(prim, pa, pb, tag):
    """How Tape.add computes a record of primals that are boxes or arrays: prim.impl
    (plain values), prim itself (values boxed at other levels: dispatch again), or
    None where the record takes _add_lazy (this tape's pending values, arrays large
    enough for prim to defer)."""
    if isinstance(pa, Box) or isinstance(pb, Box):
        if type(pa) is LazyVar and pa.tag is tag or type(pb) is LazyVar and pb.tag is tag:
            return None
        return prim
    limit = settings.defer_bytes
    if limit is not None and prim.traits.defer is not None and settings.fast and (
            type(pa) is _ndarray and pa.nbytes >= limit or type(pb) is _ndarray and pb.nbytes >= limit):
        return None
    return prim.impl


def _defer_depth(prim, primals, tag):
    """The length of the chain of pending values the primals hang on, where prim's
    answer may be deferred (the sizes checked first: small arrays cost no hook),
    else None."""
    limit = settings.defer_bytes
    if prim.traits.defer is None or limit is None or not settings.fast:
        return None
    depth = 0
    big = False
    for p in primals:
        if isinstance(p, Box):
            if p.tag is not tag or not pending(p):
                return None         # a value boxed at another level: computed now
            depth = max(depth, p.node.depth)
        elif type(p) is _ndarray and p.nbytes >= limit:
            big = True
    return depth if depth or big else None


def _compute_pending(primals, tag):
    """The arguments as the implementation takes them: this tape's pending variables
    computed; values boxed at other tags stay boxed."""
    return tuple(p.primal if type(p) is LazyVar and p.tag is tag else p for p in primals)


def _apply(prim, primals, params):
    for p in primals:
        if isinstance(p, Box):
            return prim(*primals, **params)      # boxed at older tags: dispatch again
    return prim.impl(*primals, **params)


def sweep(tape, seeds, wanted, last=False):
    """Propagate cotangents backwards through ``tape``.

    ``seeds``: list of (slot, cotangent); ``wanted``: the slots whose adjoints are
    returned (None where no cotangent reached them: a symbolic zero).  The tape is
    left intact for another sweep unless ``last``: then each record's values are
    dropped once swept, which lowers the sweep's peak memory."""
    if tape.swept_last:
        raise RuntimeError('pyad internal error: a tape was swept after its last sweep')
    tape.swept_last = last
    keep = {s for s in wanted if tape.prims[s] is not None}
    acc = Adjoints(len(tape.vals), keep, settings.fast)
    for slot, cotangent in seeds:
        acc.seed(slot, cotangent)
    first = 0 if keep else min(wanted, default=0)    # nothing before it matters
    acc.propagate(tape, first, last)
    return acc.result(wanted)


_CUSTOM = {}     # (name, several) -> the primitive of such custom records


def _custom_primitive(name, several):
    """The primitive of custom records of this name (one per name, made once: a
    record's own vjp is in its parameters)."""
    prim = _CUSTOM.get((name, several))
    if prim is None:
        prim = Primitive(name, _no_impl, traits=Traits(reads='shapes'), multiple_results=several)
        prim.def_vjp_joint(_custom_vjp_several if several else _custom_vjp_one)
        prim.def_jvp_joint(_no_jvp)
        _CUSTOM[(name, several)] = prim
    return prim


def _custom_vjp_one(g, ans, primals, params, positions):
    cotangents = params['vjp']([g])
    return [cotangents[i] for i in positions]


def _custom_vjp_several(g, ans, primals, params, positions):
    cotangents = params['vjp'](list(g))
    return [cotangents[i] for i in positions]


def _no_impl(*args, **params):
    raise RuntimeError('pyad internal error: a custom record has no implementation')


def _no_jvp(tangents, ans, primals, params):
    raise RuntimeError('pyad internal error: a custom record has no forward rule '
                       '(its value was computed outside the tape)')


from .primitive import Primitive     # noqa: E402  (primitive.py imports this module)

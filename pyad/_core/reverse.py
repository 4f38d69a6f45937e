"""Reverse mode: a flat tape (Wengert list) per operator call, swept in reverse.

Recording appends one record per primitive application; the sweep walks the
records backwards in a plain loop (no recursion, so a tape of millions of nodes
is fine), skips records whose outputs received no cotangent (symbolic zeros),
frees each adjoint as soon as it has been propagated, and reads the adjoints of
the inputs explicitly by their slots.
"""
from numpy import ndarray

from .box import Box, TapeVar, apply_inner


# A record takes RECORD consecutive entries of the tape's flat list (no tuple per
# record: the tape of a long scalar loop is mostly these entries):
#   out slot (an int, or a tuple for several results), primitive, primals (tuple),
#   ans, params, positions of the traced arguments, their slots
RECORD = 7
_FIRST = (0,)
_SECOND = (1,)
_BOTH = (0, 1)


class Tape:
    __slots__ = ('records', 'size')

    def __init__(self):
        self.records = []
        self.size = 0

    def new_slot(self):
        self.size += 1
        return self.size - 1

    def input(self, primal, tag):
        """A fresh variable with no record: an input of the differentiated function."""
        return TapeVar(primal, tag, self.new_slot())

    def __len__(self):
        return len(self.records) // RECORD


def process(prim, args, params, tag):
    n = len(args)
    if n == 1:
        a = args[0]
        positions, slots, primals = _FIRST, (a.index,), (a.primal,)
    elif n == 2:
        a, b = args
        if type(a) is TapeVar and a.tag is tag:
            if type(b) is TapeVar and b.tag is tag:
                positions, slots, primals = _BOTH, (a.index, b.index), (a.primal, b.primal)
            else:
                positions, slots, primals = _FIRST, (a.index,), (a.primal, b)
        else:
            positions, slots, primals = _SECOND, (b.index,), (a, b.primal)
    else:
        primals = []
        positions = []
        slots = []
        for i, a in enumerate(args):
            if type(a) is TapeVar and a.tag is tag:
                primals.append(a.primal)
                positions.append(i)
                slots.append(a.index)
            else:
                primals.append(a)
        primals = tuple(primals)
        positions = tuple(positions)
    ans = apply_inner(prim, primals, params)
    tape = tag.tape
    if prim.multiple_results:
        out_slots = tuple(tape.new_slot() for _ in ans)
        tape.records.extend((out_slots, prim, primals, ans, params, positions, slots))
        return type(ans)(TapeVar(a, tag, s) for a, s in zip(ans, out_slots))
    slot = tape.size
    tape.size = slot + 1
    tape.records.extend((slot, prim, primals, ans, params, positions, slots))
    return TapeVar(ans, tag, slot)


def sweep(tape, seeds, wanted):
    """Propagate cotangents backwards through ``tape``.

    ``seeds``: list of (slot, cotangent); ``wanted``: the slots whose adjoints
    are returned (None where no cotangent reached them: a symbolic zero).
    The tape is left intact, so a pullback may sweep it again.

    Adjoints are summed in place where that is safe: into a buffer the sweep
    created itself (the result of an earlier sum, or a scatter buffer) and that
    nothing else can see yet.  A rule's result is never written into, since it
    may alias a primal or another cotangent.
    """
    adjoint = [None] * tape.size
    owned = bytearray(tape.size)
    for slot, ct in seeds:
        if ct is not None:
            _accumulate(adjoint, owned, slot, ct)
    keep = set(wanted)
    records = tape.records
    for r in range(len(records) - RECORD, -1, -RECORD):
        out_slot = records[r]
        if type(out_slot) is int:
            g = adjoint[out_slot]
            if g is None:
                continue
            if out_slot not in keep:
                adjoint[out_slot] = None
        else:
            g = tuple(adjoint[s] for s in out_slot)
            if all(c is None for c in g):
                continue
            for s in out_slot:
                if s not in keep:
                    adjoint[s] = None
        prim, primals, ans, params, positions, slots = records[r + 1:r + RECORD]
        add_into = prim.vjp_add_into
        if add_into is not None and not isinstance(g, Box):
            # e.g. indexing: add g into the parent's buffer at the index, instead
            # of scattering into fresh zeros and summing those
            slot = slots[0]
            buf = adjoint[slot]
            if buf is None:
                buf = add_into(None, g, ans, primals, params)
                if buf is not None:
                    adjoint[slot] = buf
                    owned[slot] = 1
                    continue
            elif owned[slot] and add_into(buf, g, ans, primals, params) is not None:
                continue
        contributions = prim.apply_vjp(g, ans, primals, params, positions)
        for slot, c in zip(slots, contributions):
            if c is not None:
                if adjoint[slot] is None:
                    adjoint[slot] = c
                    owned[slot] = 0
                else:
                    _accumulate(adjoint, owned, slot, c)
    return [adjoint[s] for s in wanted]


def _accumulate(adjoint, owned, slot, c):
    old = adjoint[slot]
    if old is None:
        adjoint[slot] = c
        owned[slot] = 0
    elif (owned[slot] and type(old) is ndarray and not isinstance(c, Box)
          and getattr(c, 'shape', ()) == old.shape and getattr(c, 'dtype', old.dtype) == old.dtype):
        old += c
    else:
        new = old + c
        adjoint[slot] = new
        owned[slot] = type(new) is ndarray

"""Batching (vmap): a value with a batch axis in a box, and a rule per primitive.

``vmap`` wraps each batched input in a ``BatchBox`` of a fresh tag of mode
'batch'; the box stands for one example (its ``shape`` is one example's), its
primal holds the whole batch with the batch axis first.  A primitive applied to
such boxes dispatches here, like a forward or reverse tag: the boxes of the tag
are opened, the primitive's batching rule computes the whole batch at once on
what was inside (which may be boxed at older tags: vmap nests with grad, jvp,
and vmap itself, in any order), and the result is boxed again.

A rule is registered per primitive (``register``; the rules of pyad's own
primitives are in pyad/vmap_rules.py, which the core does not import):

    rule(prim, values, batched, params, size) -> the result, batch axis first

``values`` are the arguments, batch axis first where ``batched[i]``; an argument
that is not batched is one example's value, shared by all.  A primitive without
a rule is computed one example at a time and the results stacked (``loop``):
right, but a Python loop.
"""
import functools
import threading
import weakref
from typing import Any, Callable, TypeVar, cast

from .box import Box, BatchBox, shape_of
from .pytree import tree_flatten, tree_unflatten
from .tags import Tag, BATCH

_RULES = weakref.WeakKeyDictionary()     # primitive -> rule (a primitive made later may die)
_STACK = []         # the stack function of the array namespace (filled by the rules module)
_EXAMPLES = []      # (take_example, batch_of): primitives of the rules module, for per_example


_LIVE = [0]                 # the number of vmap calls running, in any thread
_LIVE_LOCK = threading.Lock()


class BatchTag(Tag):
    """The tag of one vmap call: its batch ``size`` too.  Entering it counts a
    running vmap (per_example skips its search for batch tags when none runs)."""
    __slots__ = ('size',)

    def __init__(self, size):
        super().__init__(BATCH)
        self.size = size

    def __enter__(self):
        with _LIVE_LOCK:
            _LIVE[0] += 1
        return self

    def __exit__(self, *exc):
        with _LIVE_LOCK:
            _LIVE[0] -= 1
        return super().__exit__(*exc)


def register(prim: Any, rule: Callable[..., Any], tagged: bool = False) -> None:
    """Give ``prim`` (a Primitive) its batching rule.  ``tagged``: the rule gets the
    tag in place of the size and returns the result as it is (not boxed): for the
    primitives that move values into or out of a batch (see per_example)."""
    _RULES[prim] = rule
    if tagged:
        _TAGGED.add(prim)


_TAGGED = weakref.WeakSet()


def infer_with(guess):
    """``guess(prim)``: a rule for a primitive registered without one, or None."""
    _GUESSES.append(guess)


_GUESSES = []


def rule_of(prim):
    """The batching rule of ``prim``, or None (it falls back to ``loop``)."""
    rule = _RULES.get(prim)
    if rule is None:
        for guess in _GUESSES:
            rule = guess(prim)
            if rule is not None:
                _RULES[prim] = rule
                break
    return rule


def process(prim, args, params, tag):
    values = []
    batched = []
    for a in args:
        if type(a) is BatchBox and a.tag is tag:
            values.append(a.primal)
            batched.append(True)
        else:
            values.append(a)
            batched.append(False)
    rule = _RULES.get(prim) or rule_of(prim) or loop
    if prim in _TAGGED:
        return rule(prim, values, batched, params, tag)
    out = rule(prim, values, batched, params, tag.size)
    if prim.multiple_results:
        return type(out)(BatchBox(o, tag) for o in out)
    return BatchBox(out, tag)


def loop(prim, values, batched, params, size):
    """The fallback: one example at a time, the results stacked."""
    if not size:
        raise ValueError(f'vmap: {prim.name} is computed one example at a time under vmap, '
                         f'which needs at least one example (the batch is empty)')
    stack = _STACK[0]
    results = []
    for i in range(size):
        results.append(prim(*[v[i] if b else v for v, b in zip(values, batched)], **params))
    if prim.multiple_results:
        return tuple(stack([r[j] for r in results]) for j in range(len(results[0])))
    return stack(results)


def holds_batch(x):
    """Whether x carries a batch axis of a vmap under its layers of boxes: a rule
    that reads values itself (a mask of ties, of zeros) must then compute them
    with pyad's primitives, not on the plain array inside."""
    while isinstance(x, Box):
        if type(x) is BatchBox and x.tag.live:
            return True
        x = x.primal
    return False


def one_example(x):
    """The plain value inside x, of one example where x carries batch axes (the
    first example: for the shape, dtype and array library of a value, not its
    numbers)."""
    k = 0
    while isinstance(x, Box):
        if type(x) is BatchBox and x.tag.live:
            k += 1
        x = x.primal
    return x[(0,) * k] if k else x


_F = TypeVar('_F', bound=Callable[..., Any])


def per_example(fn: _F) -> _F:
    """For a public function that reads the values of its arguments itself (to
    choose, to validate) rather than only through primitives: under vmap it runs
    one example at a time and the results are stacked (a loop, listed as such in
    the docs); elsewhere it is fn itself."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not _LIVE[0]:
            return fn(*args, **kwargs)      # (no vmap running: no batch to loop over)
        tag = _newest_batch_tag(args)
        if kwargs:
            tag = _newer(tag, _newest_batch_tag(kwargs.values()))
        if tag is None:
            return fn(*args, **kwargs)
        if not tag.size:
            raise ValueError(f'vmap: {fn.__name__} runs one example at a time under vmap, '
                             f'which needs at least one example (the batch is empty)')
        leaves, treedef = tree_flatten((args, kwargs))
        stack = _STACK[0]
        take_example, batch_of = _EXAMPLES
        results = []
        for i in range(tag.size):
            example = [_example(leaf, tag, i, take_example) for leaf in leaves]
            a, k = tree_unflatten(treedef, example)
            results.append(tree_flatten(wrapper(*a, **k)))     # (older vmaps: again)
        out_def = results[0][1]
        outs = []
        for j in range(len(results[0][0])):
            stacked = stack([r[0][j] for r in results])
            outs.append(batch_of(stacked, tag=tag, ndim=len(shape_of(stacked)) - 1))
        return tree_unflatten(out_def, outs)
    return cast(_F, wrapper)    # the same signature, for a type checker


def _newest_batch_tag(values):
    """The newest live batch tag among values (boxes, or pytrees of them), or None."""
    tag = None
    for v in values:
        if isinstance(v, Box):
            while isinstance(v, Box):       # (its layers, without a generator: per call)
                if type(v) is BatchBox and v.tag.live:
                    tag = _newer(tag, v.tag)
                v = v.primal
        elif isinstance(v, (tuple, list, dict)):
            tag = _newer(tag, _newest_batch_tag(tree_flatten(v)[0]))
    return tag


def _newer(a, b):
    return b if a is None or (b is not None and b.id > a.id) else a


def _layers(x):
    while isinstance(x, Box):
        yield x
        x = x.primal


def _example(leaf, tag, i, take_example):
    """Example i of a value of the vmap of ``tag`` (the value itself where it is
    not batched there)."""
    if type(leaf) is BatchBox and leaf.tag is tag:
        return leaf.primal[i]
    if isinstance(leaf, Box) and any(type(b) is BatchBox and b.tag is tag for b in _layers(leaf)):
        return take_example(leaf, i=i, tag=tag)     # under layers of newer operators
    return leaf

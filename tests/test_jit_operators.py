"""The operator table and the perturbation-confusion suite, run through pyad.jit.

Each test of tests/test_operators.py runs again with every operator it imports
replaced by one whose result is jitted (``jit(grad(f))`` where it said
``grad(f)``); each confusion case runs with its outermost operator jitted (the
inner ones run inside the trace, so they are recorded into the same program), and
again with every operator applied to the jitted function (``grad(jit(f))``: jitted
functions called with values being differentiated, at every nesting).
Every jitted function is called twice, so that the second call runs the compiled
program, not the trace."""
import functools

import pytest

import pyad
from pyad import confusion
from . import test_operators as _operators

_OPERATORS = ['diff', 'fdiff', 'diff2', 'fdiff2', 'diffn', 'fdiffn', 'grad', 'fgrad', 'gradv',
              'fgradv', 'hessian', 'fhessian', 'hessianv', 'fhessianv', 'gradhessian',
              'fgradhessian', 'gradhessianv', 'fgradhessianv', 'laplacian', 'flaplacian',
              'jacobian', 'fjacobian', 'jacobianv', 'fjacobianv', 'jacobianT', 'fjacobianT',
              'jacobianTv', 'fjacobianTv', 'curl', 'fcurl', 'div', 'fdiv', 'curldiv', 'fcurldiv',
              'value_and_grad', 'jacfwd', 'fjacfwd', 'jacrev', 'fjacrev', 'jvp']

@pytest.fixture(autouse=True)
def values():
    """Once, not in conftest's two modes: a traced value is never deferred (deferring
    is for large plain arrays), so both modes would record the same program."""
    yield 'eager'


# tests that are about something jit does not compile, with the reason
_NOT_THROUGH_JIT = {
    # counts the calls of f: when f returns a function, jit's first call runs f twice (traced,
    # then eagerly, since a program cannot return a function)
    'test_function_in_a_pytree_must_keep_its_structure',
    # 10⁴ calls of a fresh grad(f): through jit each is a new jitted function that traces
    # anew, so it would time 10⁴ traces and test nothing the eager run does not (the memory
    # of jit's own cache is tested in test_jit.py)
    'test_repeated_grad_calls_do_not_grow_memory',
}


def _twice(jitted):
    """Call the jitted function twice (trace, then the compiled program) and check
    that both calls agree."""
    @functools.wraps(jitted)
    def call(*args, **kwargs):
        first = jitted(*args, **kwargs)
        second = jitted(*args, **kwargs)
        _same(first, second)
        return second
    call.jitted = jitted
    return call


def _same(a, b):
    import numpy as np
    la, da = pyad.tree_flatten(a)
    lb, db = pyad.tree_flatten(b)
    assert da == db
    if any(not hasattr(x, 'dtype') or type(x).__module__.startswith('pyad') for x in la):
        return      # called under a derivative operator (jit runs f itself) or a trace
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def jitting(operator):
    """The operator with its result jitted: op(f)(x) becomes jit(op(f))(x); an
    uncurried operator (jvp(f, x, v)) is jitted in its array arguments."""
    @functools.wraps(operator)
    def op(*args, **kwargs):
        if operator is pyad.jvp:
            f = args[0]
            return _twice(pyad.jit(lambda *xs: operator(f, *xs, **kwargs)))(*args[1:])
        result = operator(*args, **kwargs)
        return _twice(pyad.jit(result)) if callable(result) else result
    return op


class _patched:
    def __init__(self, module, names):
        self.module, self.names = module, names

    def __enter__(self):
        self.saved = {n: getattr(self.module, n) for n in self.names if hasattr(self.module, n)}
        for n, op in self.saved.items():
            setattr(self.module, n, jitting(op))

    def __exit__(self, *exc):
        for n, op in self.saved.items():
            setattr(self.module, n, op)


def _through_jit(test):
    @functools.wraps(test)
    def run(*args, **kwargs):
        with _patched(_operators, _OPERATORS):
            return test(*args, **kwargs)
    return run


for _name, _test in list(vars(_operators).items()):
    if _name.startswith('test_') and callable(_test) and _name not in _NOT_THROUGH_JIT:
        globals()[_name + '_jit'] = _through_jit(_test)


@pytest.mark.parametrize('case', confusion.CASES, ids=lambda c: c.name)
def test_confusion_case_jit(case):
    with _patched(confusion, _OPERATORS):
        ok, got = confusion.check(case)
    if isinstance(got, Exception):
        raise got
    assert ok, f'{case.name} through jit: expected {case.expected!r}, got {got!r}\n{case.doc}'


# ------------------------------------------------------------- jit inside the operators
def jitting_the_function(operator):
    """The operator applied to the jitted function: op(f) becomes op(jit(f)), so that
    the jitted function is called with values the operator differentiates (compiled
    as a unit with compiled derivatives; nested operators peel one level each)."""
    @functools.wraps(operator)
    def op(f, *args, **kwargs):
        return operator(pyad.jit(f) if callable(f) else f, *args, **kwargs)
    return op


class _patched_inside(_patched):
    def __enter__(self):
        self.saved = {n: getattr(self.module, n) for n in self.names if hasattr(self.module, n)}
        for n, op in self.saved.items():
            setattr(self.module, n, jitting_the_function(op))


@pytest.mark.parametrize('case', confusion.CASES, ids=lambda c: c.name)
def test_confusion_case_with_jitted_functions(case):
    with _patched_inside(confusion, _OPERATORS):
        ok, got = confusion.check(case)
        ok2, got2 = confusion.check(case)       # the compiled programs, where there are
    for ok, got in ((ok, got), (ok2, got2)):
        if isinstance(got, Exception):
            raise got
        assert ok, f'{case.name} with jitted functions: expected {case.expected!r}, got ' \
                   f'{got!r}\n{case.doc}'

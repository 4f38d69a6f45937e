"""From a recording to a Python function: straight-line source, compiled once.

The recording is already constant-folded (what touched no tracer ran at trace
time).  Here: values that reach no output, no guard and no in-place write are
dropped; large intermediates are released (``del``) after their last use; every
constant that is not a literal becomes a global of the program, named after what
it is (``exp``, ``matmul``, ``c0`` for an array); and the source is compiled.
"""
import math
import operator

import numpy

from .trace import Var, same_value, MATH_ERRORS, function_key
from . import reuse, scalars, cse, lists, fuse


class Retrace(Exception):
    """A guard of a compiled program failed: the function must be traced again."""


_BINARY = {operator.add: '+', operator.sub: '-', operator.mul: '*', operator.truediv: '/',
           operator.floordiv: '//', operator.mod: '%', operator.pow: '**', operator.matmul: '@',
           operator.and_: '&', operator.or_: '|', operator.xor: '^', operator.lt: '<',
           operator.le: '<=', operator.gt: '>', operator.ge: '>=', operator.eq: '==',
           operator.ne: '!='}
_UNARY = {operator.neg: '-', operator.pos: '+', operator.abs: 'abs', operator.invert: '~'}
_RELEASE_BYTES = 1 << 16        # intermediates at least this large are freed after last use


def vars_in(obj, into):
    """The variable numbers in a template, appended to ``into``."""
    t = type(obj)
    if t is Var:
        into.append(obj.n)
    elif t is tuple or t is list:
        for o in obj:
            vars_in(o, into)
    elif t is dict:
        for o in obj.values():
            vars_in(o, into)
    elif t is slice:
        vars_in((obj.start, obj.stop, obj.step), into)
    return into


def reads(node):
    return vars_in(node.kwargs, vars_in(node.args, []))


def live_nodes(nodes, outputs, constants):
    """The nodes that something needs: an output, a guard, an in-place write (whose
    target may be a view of a live array, so it is always kept); not those whose
    results are all constants (folded)."""
    live = set(outputs)
    kept = []
    for node in reversed(nodes):
        if node.outs and not node.writes and all(n in constants for n in node.outs):
            continue
        if node.kind == 'guard' or node.writes or any(n in live for n in node.outs):
            kept.append(node)
            live.update(reads(node))
    kept.reverse()
    return kept


class _Names:
    """Globals of the generated program: functions by their names, other
    constants as c0, c1, ...; ``folded``: variables whose values are constants."""

    def __init__(self, folded, labels=None):
        self.globals = {'Retrace': Retrace}
        self._by_id = {}
        self.folded = folded
        self.labels = labels or {}      # device libraries' functions: cupy_exp, ...

    def name(self, obj, hint=None):
        # a ufunc's method (add.reduce) is a new object at each access: one name for all
        key = function_key(obj) if callable(obj) else id(obj)
        if key in self._by_id:
            return self._by_id[key]
        base = hint or f'c{len(self._by_id)}'
        name, k = base, 1
        while name in self.globals:
            name, k = f'{base}_{k}', k + 1
        self.globals[name] = obj
        self._by_id[key] = name
        return name

    def function(self, fn):
        hint = getattr(fn, '__name__', None)
        owner = getattr(fn, '__self__', None)
        label = self.labels.get(function_key(fn))
        if label is not None:
            hint = label
        elif isinstance(owner, numpy.ufunc):
            hint = f'{owner.__name__}_{hint}'        # add.reduce -> add_reduce
        elif getattr(fn, '__module__', None) == 'math':
            hint = f'math_{hint}'                    # math.sin -> math_sin (numpy's is sin)
        elif type(fn).__module__.startswith('numba'):
            hint = 'fused'                          # a chain of elementwise operations
        if not (hint and hint.isidentifier()) or hint.startswith('_'):
            hint = 'fn' + (hint or '') if hint and hint.strip('_').isidentifier() else None
        return self.name(fn, hint)


def _literal(obj):
    """Source for obj if it is a plain literal, else None."""
    t = type(obj)
    if obj is None or obj is Ellipsis or t is bool or t is int or t is str:
        return repr(obj) if obj is not Ellipsis else '...'
    if t is float:
        return repr(obj) if math.isfinite(obj) else None
    return None


def _expr(obj, names):
    t = type(obj)
    if t is Var:
        if obj.n in names.folded:
            return _expr(names.folded[obj.n], names)
        return f'v{obj.n}'
    lit = _literal(obj)
    if lit is not None:
        return lit
    container = _CONTAINERS.get(t)
    if container is not None and (t is not dict or all(type(k) is str for k in obj)):
        return container(obj, names)
    if callable(obj) and hasattr(obj, '__name__'):
        return names.function(obj)
    return names.name(obj)


def _tuple_expr(obj, names):
    inner = ', '.join(_expr(o, names) for o in obj)
    return f'({inner},)' if len(obj) == 1 else f'({inner})'


def _slice_expr(obj, names):
    parts = [_expr(p, names) for p in (obj.start, obj.stop, obj.step)]
    return 'slice(' + ', '.join(parts) + ')'


_CONTAINERS = {
    tuple: _tuple_expr,
    list: lambda obj, names: '[' + ', '.join(_expr(o, names) for o in obj) + ']',
    slice: _slice_expr,
    dict: lambda obj, names: '{' + ', '.join(f'{k!r}: {_expr(v, names)}'
                                             for k, v in obj.items()) + '}',
}


def _index(obj, names):
    """Source for an index: slices written as a:b:c."""
    if type(obj) is slice:
        parts = [_expr(p, names) if p is not None else '' for p in (obj.start, obj.stop, obj.step)]
        return ':'.join(parts) if parts[2] else ':'.join(parts[:2])
    if type(obj) is tuple and obj:
        return ', '.join(_index(o, names) for o in obj) + (',' if len(obj) == 1 else '')
    return _expr(obj, names)


def _call_args(node, names, skip=0):
    parts = [_expr(a, names) for a in node.args[skip:]]
    parts += [f'{k}={_expr(v, names)}' for k, v in node.kwargs.items()]
    return ', '.join(parts)


_CONVERSIONS = {int: 'int', float: 'float', complex: 'complex'}


def _guard_test(fn, args, names):
    """The condition under which a guard fails."""
    value, seen = _expr(args[0], names), args[1]
    if fn is bool:
        return f'not {value}' if seen else value
    if fn in _CONVERSIONS and _literal(seen) is not None:
        return f'{_CONVERSIONS[fn]}({value}) != {_literal(seen)}'
    if seen is True:
        return f'not {names.function(fn)}({value})'
    if fn is same_value:
        return f'not {names.function(fn)}({value}, {names.name(seen)})'
    return f'{names.function(fn)}({value}) != {_expr(seen, names)}'


def _statement(node, names, guard_no):
    kind, args = node.kind, node.args
    if kind == 'guard':
        return f'if {_guard_test(node.fn, args, names)}: raise Retrace({guard_no})'
    if kind == 'alias':
        src = _expr(args[0], names)
        return f'v{node.outs[0]} = {src}.copy()' if node.outs[0] in names.copies \
            else f'v{node.outs[0]} = {src}'
    if kind == 'setitem':
        return f'{_expr(args[0], names)}[{_index(args[1], names)}] = {_expr(args[2], names)}'
    rhs = _RIGHT_HAND_SIDES[kind](node, names)
    if not node.outs:
        return rhs
    if node.multi is not None:
        lhs = ', '.join(f'v{n}' for n in node.outs) + (',' if len(node.outs) == 1 else '')
        return f'{lhs} = {rhs}'
    return f'v{node.outs[0]} = {rhs}'


def _call_source(node, names):
    fn, args = node.fn, node.args
    if fn in _BINARY and not node.kwargs:
        return f'{_expr(args[0], names)} {_BINARY[fn]} {_expr(args[1], names)}'
    if fn in _UNARY and not node.kwargs:
        op = _UNARY[fn]
        return f'abs({_expr(args[0], names)})' if op == 'abs' else f'{op}{_expr(args[0], names)}'
    return f'{names.function(fn)}({_call_args(node, names)})'


_RIGHT_HAND_SIDES = {
    'call': _call_source,
    'method': lambda node, names: f'{_expr(node.args[0], names)}.{node.fn}('
                                  f'{_call_args(node, names, 1)})',
    'attr': lambda node, names: f'{_expr(node.args[0], names)}.{node.fn}',
    'getitem': lambda node, names: f'{_expr(node.args[0], names)}[{_index(node.args[1], names)}]',
}


def _last_uses(nodes, keep):
    """node index -> variables read there for the last time (never those in keep)."""
    last = {}
    for i, node in enumerate(nodes):
        for n in reads(node):
            last[n] = i
    out = {}
    for n, i in last.items():
        if n not in keep:
            out.setdefault(i, []).append(n)
    return out


def _shown(chain, names):
    """A fused chain's expression, in the program's names."""
    expr, inputs = chain
    for k in range(len(inputs) - 1, -1, -1):
        expr = expr.replace(f'i{k}', _expr(Var(inputs[k]), names))
    return expr


def _line(i, node, names, recording, plans, guard_no):
    """The statement for node i, as the plans (scalars, reuse) write it."""
    if i in plans.arithmetic:
        return scalars.source(node, lambda a: _expr(a, names), recording)
    if i in plans.into:
        ufunc, buffer = plans.into[i]
        return f'v{node.outs[0]} = {names.function(ufunc)}({_call_args(node, names)}, out=v{buffer})'
    if i in plans.increments:
        target, index, value = plans.increments[i]
        return f'{_expr(target, names)}[{_index(index, names)}] += {_expr(value, names)}'
    return _statement(node, names, guard_no)


class _Plans:
    """What the passes decided for the nodes (each module's docstring says how)."""

    def __init__(self, nodes, recording, keep, written):
        self.last = _last_uses(nodes, keep)
        self.into = reuse.plan(nodes, recording, keep, self.last, reads)
        self.arithmetic = scalars.plan(nodes, recording, reads)
        self.increments, self.skipped = scalars.augmented(nodes, reads)
        self.before, self.replace, self.at_return = lists.rewrite(
            nodes, recording, reads, self.increments, self.skipped, written)


def generate(recording, out_template, name='jitted'):
    """(source, globals) of the program: ``name(v_in0, v_in1, ...)`` returning the
    flat list of output leaves."""
    outputs = vars_in(out_template, [])
    written = {n for node in recording.nodes for n in node.writes}
    protected = written | set(outputs) | set(recording.constants)
    nodes = cse.eliminate(recording.nodes, protected)
    nodes = live_nodes(nodes, outputs, recording.constants)
    names = _Names(recording.constants, recording.labels)
    names.copies = recording.copies | set(outputs)     # an output never aliases an input
    params = ', '.join(f'v{n}' for n in recording.inputs)
    keep = set(outputs) | set(recording.inputs)
    nodes, shown = fuse.apply(nodes, recording, keep, reads)
    plans = _Plans(nodes, recording, keep, written)
    array_name = names.function(numpy.array) if plans.before or plans.at_return else None
    lines = [f'def {name}({params}):'] + _body(nodes, plans, names, recording, shown, array_name)
    lines += ['    ' + make(array_name) for make in plans.at_return]
    lines.append(f'    return {_outputs(out_template, names)}')
    if any(getattr(node.fn, '__module__', None) == 'math' for node in nodes):
        lines = _domain_wrapper(name, params, lines, names)
    return '\n'.join(lines) + '\n', names.globals


def _body(nodes, plans, names, recording, shown, array_name):
    """The statements of the program, with the user's lines as comments."""
    lines = []
    guard_no = 0
    previous_line = None
    for i, node in enumerate(nodes):
        if node.line != previous_line:
            lines.append(f'    # {node.line}')
            previous_line = node.line
        lines += ['    ' + make(array_name) for make in plans.before.get(i, ())]
        if i in plans.replace:
            lines.append('    ' + plans.replace[i](array_name))
        elif i not in plans.skipped:
            lines.append('    ' + _line(i, node, names, recording, plans, guard_no))
        if node.outs and node.outs[0] in shown:
            lines[-1] += f'      # {_shown(shown[node.outs[0]], names)}'
        guard_no += node.kind == 'guard'
        dead = [n for n in plans.last.get(i, ()) if recording.nbytes.get(n, 0) >= _RELEASE_BYTES
                and n not in recording.constants]
        if dead:
            lines.append('    del ' + ', '.join(f'v{n}' for n in dead))
    return lines


def _domain_wrapper(name, params, lines, names):
    """The program, calling functions of the math module, behind one that retraces
    when a value is outside their domain (math.log(-1.0) raises, where eager pyad
    gives NumPy's nan): the new trace takes NumPy's function there, guarded."""
    names.globals['MATH_ERRORS'] = MATH_ERRORS
    body = [f'def {name}_body({params}):'] + lines[1:]
    return body + ['', '', f'def {name}({params}):', '    try:',
                   f'        return {name}_body({params})',
                   '    except MATH_ERRORS:      # a math function outside its domain',
                   '        raise Retrace(-1)']


def _outputs(out_template, names):
    """The output list; a constant array is copied (each call returns a new one)."""
    parts = []
    for leaf in out_template:
        if type(leaf) is Var and leaf.n in names.folded:
            leaf = names.folded[leaf.n]
        if type(leaf) is Var:
            parts.append(f'v{leaf.n}')
        elif hasattr(leaf, 'copy') and hasattr(leaf, 'shape') and getattr(leaf, 'ndim', 0):
            parts.append(f'{names.name(leaf)}.copy()')
        else:
            parts.append(_expr(leaf, names))
    return '[' + ', '.join(parts) + ']'


def compile_program(source, globals_, name='jitted'):
    namespace = dict(globals_)
    exec(compile(source, f'<pyad.jit {name}>', 'exec'), namespace)
    return namespace[name]

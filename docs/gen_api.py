"""Write docs/api.md, the API reference, from pyad's docstrings.

    python3 docs/gen_api.py            # rewrite docs/api.md
    python3 docs/gen_api.py --check    # exit 1, with a diff, if docs/api.md is stale

Module by module: its summary, then each public name with its signature (from
``inspect``) and the first paragraph of its docstring.  Modules that are not
importable here (an optional dependency missing) are listed as such.  Run it
whenever a public name or its docstring changes, and commit the result;
tests/test_docs.py checks that the committed page is current and that
``mkdocs build --strict`` passes.
"""
import argparse
import difflib
import importlib
import inspect
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))          # the checkout's pyad, installed or not

# (module, what it is): the order of the reference
MODULES = [
    ('pyad', 'the public API: the operator table, fixed_point, pytree helpers, Primitive'),
    ('pyad.numpy', 'the differentiable NumPy namespace (`import pyad.numpy as np`)'),
    ('pyad.numpy.fft', 'discrete Fourier transforms (`pyad.numpy.fft`, as `numpy.fft`)'),
    ('pyad.linalg', 'linear algebra as intrinsic primitives'),
    ('pyad.scipy.special', 'differentiable special functions (`scipy.special`)'),
    ('pyad.scipy.stats', 'differentiable distributions (`scipy.stats`)'),
    ('pyad.scipy.signal', 'differentiable convolution (`scipy.signal`)'),
    ('pyad.scipy.integrate', 'a differentiable ODE solver (`scipy.integrate.odeint`)'),
    ('pyad.fixed_point', 'the fixed-point operator'),
    ('pyad.tree_util', 'pytrees, with JAX\'s names'),
    ('pyad.flatten_util', 'a pytree as one flat vector and back'),
    ('pyad.nn', 'softmax, sparse mappings, losses and attention'),
    ('pyad.optim', 'optimisers and minimisers'),
    ('pyad.numerical', 'finite differences with the operator table\'s API'),
    ('pyad.symbolic', 'symbolic derivatives with SymPy (optional)'),
    ('pyad.testing', 'derivative checking'),
    ('pyad.backend', 'NumPy or CuPy, chosen from the arrays'),
    ('pyad.confusion', 'the perturbation-confusion suite (`python3 -m pyad.confusion`)'),
]

_CODE = re.compile(r'(``.+?``|`[^`]+`)')


def escape(text):
    """Markdown-safe prose: escape HTML brackets outside code spans."""
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace('<', '&lt;').replace('>', '&gt;')
    return ''.join(parts)


_SIGNATURE_LINE = re.compile(r'^[\w.]+\(.*\)$', re.S)


def first_paragraph(obj):
    if inspect.isclass(obj):
        doc = obj.__dict__.get('__doc__')           # not a base class's (TypeError's) text
        doc = inspect.cleandoc(doc) if isinstance(doc, str) else ''
    else:
        doc = inspect.getdoc(obj) or ''
    paragraphs = [p for p in doc.strip().split('\n\n') if p.strip()]
    # NumPy's and SciPy's ufunc docstrings open with a signature line: skip it
    while paragraphs and _SIGNATURE_LINE.match(' '.join(paragraphs[0].split())):
        paragraphs = paragraphs[1:]
    para = paragraphs[0] if paragraphs else ''
    lines = [line.strip() for line in para.splitlines()]
    # a reST heading or table in the first paragraph is not a summary
    lines = [line for line in lines if line and not set(line) <= set('=-~')]
    text = ' '.join(lines)
    text = re.sub(r':(?:class|func|meth|mod|attr|data|obj):`', '`', text)     # reST roles
    if text.endswith('::'):
        text = text[:-1]
    return escape(text)


def _is_primitive(obj):
    """A pyad Primitive, or an instance of a subclass."""
    return any(c.__name__ == 'Primitive' for c in type(obj).__mro__)


def signature(name, obj):
    target = getattr(obj, 'impl', None) if _is_primitive(obj) else obj
    if target is None:
        return ''
    nin = getattr(target, 'nin', None)             # a NumPy or SciPy ufunc
    if isinstance(nin, int):
        return '(x)' if nin == 1 else '(' + ', '.join(f'x{i + 1}' for i in range(nin)) + ')'
    # the operators are decorated with functools.wraps(impl): show grad(f), not impl(f, x)
    follow = not (getattr(target, '__module__', '') or '').startswith(('pyad.operators',
                                                                        'pyad.numerical'))
    try:
        sig = inspect.signature(target, follow_wrapped=follow)
    except (TypeError, ValueError):
        return ''
    # the reference is read, not type-checked: names and defaults only (help() shows the
    # annotations)
    empty = inspect.Parameter.empty
    sig = sig.replace(parameters=[p.replace(annotation=empty) for p in sig.parameters.values()],
                      return_annotation=empty)
    return re.sub(r' at 0x[0-9a-f]+', '', str(sig))


def public_names(module):
    names = getattr(module, '__all__', None)
    if names is None:
        names = sorted(n for n in vars(module) if not n.startswith('_'))
    out = []
    for n in names:
        obj = getattr(module, n, None)
        if obj is None or inspect.ismodule(obj):
            continue
        owner = getattr(obj, '__module__', None) or ''
        if getattr(module, '__all__', None) is None:
            if not owner.startswith('pyad'):
                continue              # re-exported NumPy names: see the note
            if owner.startswith('pyad._core') and not _is_primitive(obj):
                continue              # engine helpers imported for internal use
        out.append((n, obj))
    return out


def fallback_summary(module, modname, name, obj):
    """A summary for an undocumented function, from the naming conventions only."""
    twin = getattr(module, 'f' + name, None)
    if twin is not None and first_paragraph(twin):
        return f'As `f{name}`, without the value f(x).'
    if name.startswith('f') and first_paragraph(getattr(module, name[1:], None) or 0):
        return f'As `{name[1:]}`, also returning the value f(x) first.'
    if modname == 'pyad.numpy':
        import numpy
        import scipy.special
        source = ('numpy' if hasattr(numpy, name) else
                  'scipy.special' if hasattr(scipy.special, name) else None)
        if source is None:
            return ''
        if _is_primitive(obj) and not getattr(obj, 'nondiff', False):
            return f'`{source}.{name}`, differentiable.'
        return f'As `{source}.{name}`.'
    return ''


def kind(obj):
    if inspect.isclass(obj):
        return 'class'
    if callable(obj):
        return ''
    return 'value'


def entry(module, modname, name, obj):
    """One name's line: its label (with the signature) and its summary."""
    sig = signature(name, obj) if callable(obj) else ''
    label = {'class': f'class `{name}{sig}`', 'value': f'`{name}`'}.get(kind(obj), f'`{name}{sig}`')
    summary = first_paragraph(obj) if (callable(obj) or inspect.isclass(obj)) else ''
    if not summary and callable(obj) and not inspect.isclass(obj):
        summary = fallback_summary(module, modname, name, obj)
    return f'- **{label}**' + (f' — {summary}' if summary else '')


def document(modname, blurb):
    try:
        module = importlib.import_module(modname)
    except Exception as error:                # noqa: BLE001 -- an optional dependency missing
        return [f'## `{modname}`', '', f'*{blurb}.* Not importable where this page was built '
                f'({type(error).__name__}: {escape(str(error))}).', '']
    lines = [f'## `{modname}`', '', f'*{blurb}.*', '']
    summary = first_paragraph(module)
    if summary:
        lines += [summary, '']
    seen = {}
    for name, obj in public_names(module):
        key = id(obj)
        if key in seen and callable(obj):
            lines.append(f'- **`{name}`** — the same as `{seen[key]}`.')
            continue
        seen[key] = name
        lines.append(entry(module, modname, name, obj))
    if modname == 'pyad.numpy':
        lines += ['', 'NumPy\'s constants, dtypes and array-creation and index functions '
                  '(`pi`, `float32`, `zeros`, `arange`, `argmax`, ...) are re-exported '
                  'unchanged: they have nothing to differentiate.']
    lines.append('')
    return lines


def generate():
    lines = ['# API reference', '',
             '<!-- generated by docs/gen_api.py from the docstrings: do not edit by hand -->', '',
             'Every public name, module by module, with its signature and the first paragraph '
             'of its docstring (`help(name)` in Python gives the rest). The operators are '
             'curried: `grad(f)` returns a function of `x`. Regenerate this page with '
             '`python3 docs/gen_api.py`.', '']
    for modname, blurb in MODULES:
        lines += document(modname, blurb)
    return '\n'.join(lines).rstrip() + '\n'


def stale(path, text):
    """The differences between the page at ``path`` and ``text`` (a unified diff), or ''."""
    try:
        with open(path, encoding='utf-8') as f:
            old = f.read()
    except FileNotFoundError:
        old = ''
    if old == text:
        return ''
    name = os.path.relpath(path)
    return ''.join(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                        f'{name} (committed)', f'{name} (generated)'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--output', default=os.path.join(HERE, 'api.md'))
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit with 1 (and print the differences) if the '
                             'page at --output is not what would be written')
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        diff = stale(args.output, text)
        if diff:
            print(f'{args.output} is stale: regenerate it with `python3 docs/gen_api.py`\n{diff}')
            return 1
        print(f'{args.output} is current')
        return 0
    with open(args.output, 'w', encoding='utf-8') as f:
        f.write(text)
    print(f'wrote {args.output} ({text.count(chr(10))} lines)')
    return 0


if __name__ == '__main__':
    sys.exit(main())

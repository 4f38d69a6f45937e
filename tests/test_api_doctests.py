"""The examples in the docstrings of the public API run and print what they say;
every public operator has one, and shows its real signature."""
import doctest
import importlib
import inspect

import numpy as onp
import pytest

import pyad

MODULES = ['pyad.operators', 'pyad.custom', 'pyad.checkpoint', 'pyad.tree_util',
           'pyad.flatten_util']


@pytest.fixture
def values():
    """(Overrides the conftest fixture: the examples run once, as written.)"""
    return 'eager'


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name) if t.examples]
    assert tests, f'{name} has no examples'
    with onp.printoptions(legacy=False):
        for test in tests:
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f'{result.failed} of {result.attempted} examples failed in {name}'


@pytest.mark.parametrize('name', pyad.operators.__all__ + ['custom_jvp', 'custom_vjp',
                                                           'checkpoint'])
def test_every_public_operator_has_an_example(name):
    op = getattr(pyad, name)
    assert '>>>' in (op.__doc__ or ''), f'pyad.{name} has no example in its docstring'
    sig = inspect.signature(op)
    assert sig.parameters, name
    assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values()
               if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)), \
        f'pyad.{name}{sig}: parameters without annotations'


def test_new_names_are_public():
    for name in ('custom_jvp', 'custom_vjp', 'ClosureError', 'checkpoint', 'remat', 'linearize',
                 'tree_util', 'flatten_util'):
        assert name in pyad.__all__ and hasattr(pyad, name), name
    assert not inspect.ismodule(pyad.checkpoint)


def test_py_typed_is_shipped():
    import pathlib
    root = pathlib.Path(pyad.__file__).parent
    assert (root / 'py.typed').exists()
    pyproject = (root.parent / 'pyproject.toml').read_text()
    assert 'py.typed' in pyproject

"""The documentation builds strictly (no broken link, no missing page), with the API
reference regenerated from the docstrings first, so neither can go stale."""
import os
import re
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT)] + [p for p in [env.get('PYTHONPATH')] if p])
    return env


def _once(values):
    """Subprocesses, which the suite's two modes (tests/conftest.py) do not reach: once."""
    if values != 'eager':
        pytest.skip('a subprocess: the same run as in the eager mode')


@pytest.fixture(scope='module')
def generated_api(tmp_path_factory):
    """The API reference generated from this checkout's docstrings, once per module."""
    out = tmp_path_factory.mktemp('api') / 'api.md'
    done = subprocess.run([sys.executable, str(ROOT / 'docs' / 'gen_api.py'), '--output', str(out)],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return out.read_text(encoding='utf-8')


def test_api_reference_generates(generated_api, values):
    _once(values)
    text = generated_api
    for name in ('`pyad`', '`pyad.numpy`', 'grad(f, argnums=0, has_aux=False', 'hessianv(f',
                 'jacobianTv(f'):
        assert name in text
    assert 'Not importable' not in text.split('## `pyad.symbolic`')[0], \
        'a core module failed to import while generating the API reference'


def _unimportable(text):
    return set(re.findall(r'## `([\w.]+)`\n\n\*[^\n]*\* Not importable', text))


def test_committed_api_reference_is_current(generated_api, values):
    """docs/api.md is what docs/gen_api.py writes from the docstrings of this checkout."""
    _once(values)
    sys.path.insert(0, str(ROOT / 'docs'))
    try:
        import gen_api
    finally:
        sys.path.remove(str(ROOT / 'docs'))
    committed = (ROOT / 'docs' / 'api.md').read_text(encoding='utf-8')
    missing_here = _unimportable(generated_api) - _unimportable(committed)
    if missing_here:
        pytest.skip(f'{sorted(missing_here)} cannot be imported here (an optional dependency '
                    'missing), so their reference cannot be compared')
    diff = gen_api.stale(str(ROOT / 'docs' / 'api.md'), generated_api)
    assert not diff, ('docs/api.md is stale: regenerate it with `python3 docs/gen_api.py` '
                      'from the repository root and commit it.\n' + diff[:3000])


def test_mkdocs_build_strict(tmp_path, generated_api, values):
    _once(values)
    pytest.importorskip('mkdocs')
    # build from a copy, with the reference regenerated there: the checkout is left alone
    shutil.copytree(ROOT / 'docs', tmp_path / 'docs')
    shutil.copy(ROOT / 'mkdocs.yml', tmp_path / 'mkdocs.yml')
    (tmp_path / 'docs' / 'api.md').write_text(generated_api, encoding='utf-8')
    done = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--strict',
                           '-f', str(tmp_path / 'mkdocs.yml'), '-d', str(tmp_path / 'site')],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / 'site' / 'index.html').exists()
    assert (tmp_path / 'site' / 'api' / 'index.html').exists()


def test_every_page_is_in_the_navigation():
    yaml = (ROOT / 'mkdocs.yml').read_text(encoding='utf-8')
    pages = sorted(p.name for p in (ROOT / 'docs').glob('*.md'))
    missing = [p for p in pages if p not in yaml]
    assert not missing, f'pages not in mkdocs.yml nav: {missing}'


_PRELUDE = 'import math\nimport numpy\nimport pyad\nimport pyad.numpy as np\n'


def _python_blocks(page):
    text = (ROOT / 'docs' / page).read_text(encoding='utf-8')
    return re.findall(r'```python\n(.*?)```', text, re.S)


@pytest.mark.parametrize('page', sorted(p.name for p in (ROOT / 'docs').glob('*.md')
                                        if p.name != 'api.md'))
def test_code_in_the_docs_runs(page):
    """The Python snippets of each page run, in order, in one namespace.  A snippet that
    uses a name the page leaves to the reader (f, x, params...) is skipped, and so is one
    that needs an optional package (CuPy, SymPy) that is not installed; any other error
    fails."""
    sys.path.insert(0, str(ROOT))
    try:
        namespace = {}
        exec(_PRELUDE, namespace)
        for i, block in enumerate(_python_blocks(page)):
            try:
                exec(compile(block, f'{page}[{i}]', 'exec'), namespace)
            except (NameError, ModuleNotFoundError):
                continue
    finally:
        sys.path.remove(str(ROOT))


# Internal bookkeeping (a tracker's number, a reference to "the" issue) means nothing to a reader of
# the code or the docs; a reference to another project's tracker names that project
# (ForwardDiff.jl issue #83, owner/repo#12) and is allowed.
_BOOKKEEPING = re.compile(r"\b(?:issues?|tickets?)\s*#?\s*\d+|\bthe issue's\b", re.I)
_EXTERNAL = re.compile(r'(?:\.jl|[\w-]+/[\w.-]+|github\.com\S*)\s*$')
_SCANNED = ('bench', 'tests', 'docs', 'examples', 'pyad', '.ci')
_TEXT = {'.py', '.md', '.txt', '.yml', '.yaml', '.toml', '.cfg', '.sh', '.rst'}


def _text_files():
    for top in _SCANNED:
        for path in sorted((ROOT / top).rglob('*')):
            if path.is_file() and path.suffix in _TEXT and '__pycache__' not in path.parts:
                yield path
    yield from (ROOT / name for name in ('README.md', 'mkdocs.yml', 'pyproject.toml'))


def bookkeeping(text):
    """The references to internal bookkeeping in text: (line number, line)."""
    found = []
    for match in _BOOKKEEPING.finditer(text):
        before = text[max(0, match.start() - 60):match.start()]
        if not _EXTERNAL.search(before):
            line = text.count('\n', 0, match.start()) + 1
            found.append((line, text.splitlines()[line - 1].strip()))
    return found


def test_bookkeeping_is_recognised():
    issue = 'issue'            # spelled apart, so that this file passes its own test
    assert bookkeeping(f'x = 1  # the fix for {issue} 7\n') == [(1, f'x = 1  # the fix for {issue} 7')]
    text = f'a\n## Targets ({issue.title()} #12)\nb, see {issue}s 3\n'
    assert [n for n, _ in bookkeeping(text)] == [2, 3]
    assert bookkeeping(f"(label, passed) for the {issue}'s targets") != []
    assert bookkeeping('ForwardDiff.jl issue #83 is one example') == []
    assert bookkeeping('as in jax-ml/jax issue #1234') == []
    assert bookkeeping('pyad issues more kernels; tissue 3 is not a word here') == []


def test_no_internal_bookkeeping_in_the_project():
    found = [f'{path.relative_to(ROOT)}:{line}: {text}'
             for path in _text_files() for line, text in bookkeeping(path.read_text(encoding='utf-8'))]
    assert not found, ('references to internal bookkeeping; say what is meant in plain terms '
                       'instead:\n' + '\n'.join(found))

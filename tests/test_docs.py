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


def test_api_reference_generates(tmp_path):
    out = tmp_path / 'api.md'
    done = subprocess.run([sys.executable, str(ROOT / 'docs' / 'gen_api.py'), '--output', str(out)],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    text = out.read_text(encoding='utf-8')
    for name in ('`pyad`', '`pyad.numpy`', 'grad(f, argnums=0, has_aux=False)', 'hessianv(f',
                 'jacobianTv(f'):
        assert name in text
    assert 'Not importable' not in text.split('## `pyad.symbolic`')[0], \
        'a core module failed to import while generating the API reference'


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip('mkdocs')
    # build from a copy, with the reference regenerated there: the checkout is left alone
    shutil.copytree(ROOT / 'docs', tmp_path / 'docs')
    shutil.copy(ROOT / 'mkdocs.yml', tmp_path / 'mkdocs.yml')
    gen = subprocess.run([sys.executable, str(ROOT / 'docs' / 'gen_api.py'),
                          '--output', str(tmp_path / 'docs' / 'api.md')],
                         cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert gen.returncode == 0, gen.stdout + gen.stderr
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

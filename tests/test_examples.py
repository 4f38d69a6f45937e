"""Every example runs in its smoke mode (a tiny run of a few seconds) and exits with 0."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / 'examples').glob('*.py') if not p.name.startswith('_'))
TIMEOUT = 180          # seconds; a smoke run takes a few on an idle machine


def _environment():
    env = dict(os.environ)
    env['MPLBACKEND'] = 'Agg'
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT)] + [p for p in [env.get('PYTHONPATH')] if p])
    return env


def _takes_out(path):
    text = path.read_text(encoding='utf-8')
    return 'from _common import' in text or "'--out'" in text


def test_examples_found():
    names = {p.name for p in EXAMPLES}
    assert {'tour.py', 'newton.py', 'classifier.py', 'hmc.py', 'kmeans.py', 'rnn.py',
            'inverse_kinematics.py', 'hypergradient.py'} <= names


@pytest.mark.parametrize('path', EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_smoke(path, tmp_path):
    if path.name == 'dask_glm.py':
        pytest.importorskip('dask.distributed')     # the optional 'dask' extra
    command = [sys.executable, str(path), '--smoke']
    if _takes_out(path):
        command += ['--out', str(tmp_path)]        # keep the figures out of the checkout
    try:
        done = subprocess.run(command, cwd=ROOT, env=_environment(), capture_output=True,
                              text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f'{path.name} --smoke did not finish within {TIMEOUT} s')
    assert done.returncode == 0, (f'{path.name} --smoke exited with {done.returncode}\n'
                                  f'--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}')
    if _takes_out(path) and path.name != 'tour.py':
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return
        assert list(tmp_path.glob('*.png')), f'{path.name} saved no figure'


def test_tour_values_match_closed_forms():
    done = subprocess.run([sys.executable, str(ROOT / 'examples' / 'tour.py')], cwd=ROOT,
                          env=_environment(), capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'MISMATCH' not in done.stdout and 'FAILED' not in done.stdout, done.stdout
    assert 'expected' in done.stdout

"""Every example runs in its smoke mode (a tiny run of a few seconds) and exits with 0,
prints its progress into a log, and draws only complete figures."""
import io
import os
import pathlib
import re
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


def _once(values):
    """The examples run in subprocesses, which the suite's two modes (tests/conftest.py)
    do not reach: run each once."""
    if values != 'eager':
        pytest.skip('a subprocess: the same run as in the eager mode')


def _common():
    sys.path.insert(0, str(ROOT / 'examples'))
    try:
        import _common
    finally:
        sys.path.remove(str(ROOT / 'examples'))
    return _common


_PROGRESS_LINE = re.compile(r'^[^\n]+: \d+(/\d+)? \(\d+\.\d s', re.M)


def _takes_out(path):
    text = path.read_text(encoding='utf-8')
    return 'from _common import' in text or "'--out'" in text


def test_examples_found():
    names = {p.name for p in EXAMPLES}
    assert {'tour.py', 'newton.py', 'classifier.py', 'hmc.py', 'kmeans.py', 'rnn.py',
            'inverse_kinematics.py', 'hypergradient.py'} <= names


@pytest.mark.parametrize('path', EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_smoke(path, tmp_path, values):
    _once(values)
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
    if re.search(r'from _common import [^\n]*\bprogress\b', path.read_text(encoding='utf-8')):
        # the output is a pipe here, as in a log: progress comes as plain lines
        assert _PROGRESS_LINE.search(done.stdout), f'{path.name} printed no progress:\n{done.stdout}'


def test_progress_in_a_log_is_plain_lines():
    stream = io.StringIO()
    bar = _common().LogProgress(range(25), desc='training', stream=stream)
    seen = []
    for i in bar:
        seen.append(i)
        bar.set_postfix(loss=f'{1 / (i + 1):.2f}')
    assert seen == list(range(25))                   # every item, once
    lines = stream.getvalue().splitlines()
    # a line at each tenth of the run (2, 4, ..., 24) and one at the end
    assert [line.split()[1] for line in lines] == [f'{k}/25' for k in range(2, 25, 2)] + ['25/25']
    assert lines[-1].startswith('training: 25/25 (') and lines[-1].endswith('loss=0.04)')


def test_progress_of_unknown_length_reports_by_time():
    stream = io.StringIO()
    items = list(_common().LogProgress(iter('abc'), desc='reading', stream=stream, every=1e9))
    assert items == ['a', 'b', 'c']
    assert len(stream.getvalue().splitlines()) == 1                 # once, at the end
    assert stream.getvalue().startswith('reading: 3 (')


def test_an_incomplete_figure_is_refused(tmp_path):
    plt = pytest.importorskip('matplotlib.pyplot')
    common = _common()
    args = common.parse_args('test', ['--out', str(tmp_path)])
    fig, (ax1, ax2) = plt.subplots(1, 2)
    ax1.plot([0, 1], [1, 0])
    ax1.plot([0, 1], [0, 1])
    ax1.set_xlabel('x')
    ax2.plot([0, 1], [1, 2])
    ax2.set_title('a line')
    ax2.set_xlabel('x')
    ax2.set_ylabel('y')
    assert common.figure_problems(fig) == ['plot 1 of 2: no title, no y label, no legend (2 series)']
    with pytest.raises(ValueError, match='figure bad.png is incomplete: plot 1 of 2'):
        common.save(fig, args, 'bad.png')
    assert not list(tmp_path.glob('*.png'))
    ax1.set_title('two lines')
    ax1.set_ylabel('y')
    ax1.legend(['falling', 'rising'])
    assert common.figure_problems(fig) == []
    common.save(fig, args, 'good.png')
    assert (tmp_path / 'good.png').exists()


def test_tour_values_match_closed_forms(values):
    _once(values)
    done = subprocess.run([sys.executable, str(ROOT / 'examples' / 'tour.py')], cwd=ROOT,
                          env=_environment(), capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'MISMATCH' not in done.stdout and 'FAILED' not in done.stdout, done.stdout
    assert 'expected' in done.stdout

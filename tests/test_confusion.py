"""The perturbation-confusion suite (pyad.confusion), one test per case."""
import os
import subprocess
import sys

import numpy as np
import pytest

from pyad import confusion


def test_at_least_thirty_cases_with_citations_and_derivations():
    assert len(confusion.CASES) >= 30
    names = [c.name for c in confusion.CASES]
    assert len(set(names)) == len(names)
    for c in confusion.CASES:
        assert c.citation.strip(), c.name
        assert c.doc, f'{c.name} has no hand derivation in its docstring'
        assert callable(c.compute)


@pytest.mark.parametrize('case', confusion.CASES, ids=lambda c: c.name)
def test_case(case):
    ok, got = confusion.check(case)
    if isinstance(got, Exception):
        raise got
    assert ok, f'{case.name}: expected {case.expected!r}, got {got!r}\n{case.doc}'


def test_check_rejects_a_wrong_value():
    wrong = confusion.Case('planted', 'test', lambda: 2.0, 1.0)
    assert confusion.check(wrong)[0] is False
    crash = confusion.Case('crash', 'test', lambda: 1 / 0, 1.0)
    ok, got = confusion.check(crash)
    assert ok is False and isinstance(got, ZeroDivisionError)
    shape = confusion.Case('shape', 'test', lambda: np.ones(3), np.ones(2))
    assert confusion.check(shape)[0] is False


def test_run_prints_a_table_and_returns_true(capsys):
    assert confusion.run(verbose=True) is True
    out = capsys.readouterr().out
    assert 'sp05_x_times_d_x_plus_y' in out and 'expected' in out
    assert f'{len(confusion.CASES)} of {len(confusion.CASES)} cases pass' in out


def test_module_entry_point_exit_status():
    import pyad
    root = os.path.dirname(os.path.dirname(os.path.abspath(pyad.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, '-m', 'pyad.confusion'], capture_output=True, text=True,
                          timeout=120, env=env, cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'cases pass' in proc.stdout


def test_all_cases_concurrently_in_eight_threads():
    """Tags are per call: eight threads running the whole suite at once must not confuse
    each other's derivatives."""
    import threading
    failures = []
    barrier = threading.Barrier(8)

    def work(offset):
        barrier.wait()
        fast = [c for c in confusion.CASES
                if not any(w in c.name for w in ('rosenbrock', 'minimisation', 'particle'))]
        cases = fast[offset:] + fast[:offset]
        for c in cases:
            ok, got = confusion.check(c)
            if not ok:
                failures.append((c.name, got))
    threads = [threading.Thread(target=work, args=(5 * i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures

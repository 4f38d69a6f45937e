"""Small checks shared by several test modules."""
import threading

import numpy as onp

import pyad


def assert_nested_jacobians_agree(f, x):
    """Two levels of batch axes (jacfwd/jacrev nested both ways) give one answer."""
    H = pyad.jacfwd(pyad.jacrev(f))(x)
    for other in (pyad.jacrev(pyad.jacfwd(f))(x), pyad.jacfwd(pyad.jacfwd(f))(x),
                  pyad.jacrev(pyad.jacrev(f))(x)):
        onp.testing.assert_allclose(other, H, rtol=1e-12, atol=1e-12)


def run_threads(work, n):
    """Run work(i) for i < n on n threads at once and wait for all of them."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

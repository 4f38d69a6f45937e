"""pyad.testing.check_grads: it catches what it promises to catch."""
import numpy as np
import pytest

import pyad
from pyad import Primitive
from pyad._core.box import ndim_of


@pytest.mark.parametrize('mode, which', [('fwd', 'forward'), ('rev', 'reverse')])
def test_check_grads_catches_a_rule_wrong_only_for_a_batch_of_directions(mode, which):
    # right for one direction, 1.5 times too large for a batch (jacfwd, jacrev) in one mode
    def scale(batched):
        return 3.0 if batched else 2.0
    p = Primitive(f'doubles_but_not_in_a_batch_{mode}', lambda x: x * 2.0)
    p.def_jvp(lambda t, ans, x: scale(mode == 'fwd' and ndim_of(t) > ndim_of(x)) * t)
    p.def_vjp(lambda g, ans, x: scale(mode == 'rev' and ndim_of(g) > ndim_of(ans)) * g)
    x = np.array([0.3, 0.5])
    pyad.testing.check_grads(lambda x: p(x), x, order=1, batched=False)
    with pytest.raises(AssertionError, match=f'batched {which} Jacobian .* times v and J v'):
        pyad.testing.check_grads(lambda x: p(x), x, order=1)
    with pytest.raises(AssertionError, match=f'batched {which} Jacobian'):
        pyad.testing.check_grads(lambda x: p(x), x, order=1, modes=(mode,))

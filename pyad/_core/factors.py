"""Lazy constant factors, kept bounded.

Both modes may carry a derivative as ``k * arr`` with k a Python float not yet
applied (a dual number's tangent, ``Dual.k``; an adjoint in the sweep,
``adjoints.Scaled``): the derivative of ``-x``, ``c * x`` or ``x - y`` then costs
no pass over the array.  Along a long chain such factors compound (0.5 ** 1000
underflows, 100 ** 200 overflows) while ``arr`` drifts the other way, so a
representation whose product is an ordinary number could hold inf or 0.

The rule that prevents it: a factor is kept lazily only while ``|k|`` lies
within ``[1 / BOUND, BOUND]`` for the array's dtype; outside, it is applied
(folded into the array) at once.  ``arr`` is then within a factor BOUND of the
true derivative, whatever the length of the chain, and meeting factors
(k1 / k2 applied to one side) stay within BOUND² of theirs.  BOUND is 2**64 in
float64 (a derivative would have to exceed 1e289 to overflow where its true
value does not), 2**16 in float32, and 1 in float16 (only signs stay lazy).
"""

_BOUNDS = {8: 2.0 ** 64, 4: 2.0 ** 16}     # by itemsize; others: 1 (signs only)


def fits(k, dtype):
    """Whether k may stay lazy on an array of this dtype (a real float dtype; not
    for None, a value without one)."""
    if dtype is None or dtype.kind != 'f':
        return False
    bound = _BOUNDS.get(dtype.itemsize, 1.0)
    return 1.0 / bound <= (k if k >= 0.0 else -k) <= bound


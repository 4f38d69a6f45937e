import numpy as np, pyad, pyad.numpy as pnp, pyad.nn as nn
heron = lambda a, x: 0.5 * (x + a / x)
A = np.array([2., 3., 4.])
print(pyad.vmap(pyad.grad(lambda a: pyad.fixed_point(heron, a, 1.0)))(A), 0.5/np.sqrt(A))
print(pyad.vmap(pyad.diff(lambda a: pyad.fixed_point(heron, a, 1.0)))(A), 0.5/np.sqrt(A))
print(pyad.vmap(pyad.diff2(lambda a: pyad.fixed_point(heron, a, 1.0)))(A), -0.25*A**-1.5)
print(pyad.vmap(pyad.hessian(lambda a: pyad.fixed_point(heron, a[0], 1.0) * a[1]))(np.stack([A, A+1], 1))[1], )
print(pyad.hessian(lambda a: pyad.fixed_point(heron, a[0], 1.0) * a[1])(np.array([3., 4.])))

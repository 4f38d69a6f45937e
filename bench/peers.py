"""The peers, imported only if installed: autograd, JAX (eager and jit), PyTorch eager.

``run.py`` pins every thread pool to one thread before anything imports NumPy;
here JAX is switched to float64 (so that float64 workloads compare like with
like) and torch is told to use one thread.
"""
import importlib.metadata


class Peers:
    def __init__(self, disabled=()):
        self.autograd = self.anp = None
        self.jax = self.jnp = None
        self.torch = None
        self.versions = {}
        self.missing = {}
        if 'autograd' not in disabled:
            try:
                import autograd
                import autograd.numpy as anp
                self.autograd, self.anp = autograd, anp
                self.versions['autograd'] = importlib.metadata.version('autograd')
            except ImportError as e:
                self.missing['autograd'] = str(e)
        if 'jax' not in disabled:
            try:
                import jax
                jax.config.update('jax_enable_x64', True)
                jax.config.update('jax_platforms', 'cpu')
                import jax.numpy as jnp
                self.jax, self.jnp = jax, jnp
                self.versions['jax'] = jax.__version__
                self.versions['jaxlib'] = importlib.metadata.version('jaxlib')
            except ImportError as e:
                self.missing['jax'] = str(e)
        if 'torch' not in disabled:
            try:
                import torch
                torch.set_num_threads(1)
                try:
                    torch.set_num_interop_threads(1)
                except RuntimeError:
                    pass
                self.torch = torch
                self.versions['torch'] = torch.__version__
            except ImportError as e:
                self.missing['torch'] = str(e)

    def jax_ready(self, fn):
        """A zero-argument JAX call that waits for its result (async dispatch)."""
        jax = self.jax
        return lambda: jax.block_until_ready(fn())

    def tensor(self, a, requires_grad=False):
        t = self.torch.from_numpy(a.copy() if hasattr(a, 'copy') else a)
        return t.requires_grad_(requires_grad)

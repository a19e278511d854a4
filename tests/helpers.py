"""Small helpers shared by test modules (imported as ``from helpers import ...``)."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def one_thread():
    """One intra-op torch thread in this process, as in the subprocesses the tests start
    (OMP_NUM_THREADS=1): float sums depend on how work is split, and one thread is also the fast
    choice on a busy 2-core machine. Determinism holds for any fixed count."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)

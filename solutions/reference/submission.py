"""The reference solution laid out as a student submission (contract v1): grading it scores every
automatic point. It re-exports the reference implementations of `solutions/`, so nothing is written twice.
"""
from solutions.augment import augment  # noqa: F401
from solutions.bptt import bptt_gradients  # noqa: F401
from solutions.cnn import Net, NetBN, loss_fn  # noqa: F401
from solutions.he_init import init_weights  # noqa: F401
from solutions.optimizers import Adam, RMSProp  # noqa: F401

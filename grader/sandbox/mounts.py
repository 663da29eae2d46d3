"""Mounts of the grading thread's own: a private mount namespace per thread (unshare(CLONE_NEWNS) affects
only the calling thread and the processes it starts), where the children's size-limited tmpfs are mounted
unseen by the host and the rest of the process, and freed by the kernel if the grader dies."""
from __future__ import annotations

import ctypes
import functools
import os
import tempfile
import threading
from pathlib import Path

from grader.sandbox.tree import remove_tree

CLONE_NEWNS = 0x00020000
MS_REC, MS_PRIVATE = 0x4000, 0x40000
MNT_DETACH = 2


@functools.cache
def libc() -> ctypes.CDLL:
    """The C library, for unshare, mount and umount2 (which Python 3.11's os module lacks)."""
    return ctypes.CDLL(None, use_errno=True)


_private = threading.local()  # whether this thread has its own mount namespace already


def private_namespace() -> bool:
    """Give the calling thread a mount namespace of its own (once), with nothing propagating to the host.
    Only this thread (and the children it starts) sees the mounts made in it; the rest of the process,
    other grading threads included, does not."""
    if getattr(_private, "ok", None) is None:
        _private.ok = os.geteuid() == 0 and libc().unshare(CLONE_NEWNS) == 0 and \
            libc().mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) == 0
    return _private.ok


def tmpfs_works() -> bool:
    """Whether a child's space can be a size-limited tmpfs here, tried in a throwaway thread (whose private
    namespace goes with it)."""
    found: list[bool] = []

    def attempt() -> None:
        root = Path(tempfile.mkdtemp(prefix="hw2grade-probe-"))
        try:
            found.append(private_namespace() and libc().mount(b"hw2grade", str(root).encode(), b"tmpfs", 0,
                                                               b"size=1m,nr_inodes=16") == 0)
            if found[-1]:
                libc().umount2(str(root).encode(), MNT_DETACH)
        finally:
            remove_tree(root)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join()
    return bool(found and found[0])

"""The writable space of one child: a fresh `out/` and `work/` per child, with a disk limit the kernel enforces.

As root (where bubblewrap runs without user namespaces) the space is a tmpfs of `limits.disk_bytes` and
`limits.disk_entries` inodes, mounted in a private mount namespace of the grading thread: no other process sees
it, a full tmpfs refuses the child's next write (ENOSPC) whatever path or file descriptor it uses (fallocate
included), and it is freed at once when unmounted, or by the kernel when the grading process dies, so a
killed grader leaves no mount and no disk behind. Elsewhere the space is a folder on disk, and the limit is
a poll of its size (the weaker path: the report's isolation line says which is in force).
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from grader.sandbox.limits import Limits
from grader.sandbox.mounts import MNT_DETACH, libc, private_namespace
from grader.sandbox.tree import copy_outputs, remove_tree


class ChildSpace:
    """`root/out` and `root/work` for one child, emptied (and unmounted) by `close`, which never raises."""

    def __init__(self, root: Path, limits: Limits, uid: int | None) -> None:
        self.root, self.limits = root, limits
        root.mkdir(mode=0o755)
        self.mounted = False
        if private_namespace():
            options = f"size={limits.disk_bytes},nr_inodes={limits.disk_entries + 3},mode=0755".encode()
            # where the mount is refused (a kernel or container that allows none), the folder is polled instead
            self.mounted = libc().mount(b"hw2grade", str(root).encode(), b"tmpfs", 0, options) == 0
        for sub in (self.out, self.work):
            sub.mkdir(mode=0o755)
            if uid is not None:
                os.chown(sub, uid, uid)

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def work(self) -> Path:
        return self.root / "work"

    def carry(self, files: list[Path]) -> None:
        """Put files the grader carries over from an earlier child (trained weights) into work/."""
        for path in files:
            shutil.copyfile(path, self.work / path.name, follow_symlinks=False)

    def full(self) -> bool:
        """The child filled its space: the tmpfs has (almost) no block or inode left, or the polled folder is
        over its quota."""
        if not self.mounted:
            return not within_quota([self.out, self.work], self.limits)
        try:
            st = os.statvfs(self.root)
        except OSError:
            return False
        return st.f_bavail * st.f_frsize < (64 << 10) or st.f_favail < 2

    def keep(self, dest: Path) -> None:
        """Copy what the grader's child code wrote to out/ into `dest` (bounded; see tree.copy_outputs)."""
        copy_outputs(self.out, dest, self.limits.file_bytes, self.limits.disk_bytes)

    def close(self) -> None:
        if self.mounted:
            libc().umount2(str(self.root).encode(), MNT_DETACH)  # frees everything in it, however deep
            self.mounted = False
        remove_tree(self.root)


DISK_POLL_S = 0.2  # seconds between two looks at a polled space's disk use


MAX_POLLED_DEPTH = 256  # a polled space deeper than this counts as over quota (each level holds a descriptor)


def within_quota(folders: list[Path], limits: Limits) -> bool:
    """Whether the folders hold at most limits.disk_bytes in at most limits.disk_entries entries (blocks
    actually used, so a sparse file counts what it occupies; stops counting as soon as either is passed;
    walked by file descriptor, so path length does not matter; links never followed)."""
    total, entries = 0, 0
    stack: list[tuple[int, list[str]]] = []
    try:
        for f in folders:
            try:
                fd = os.open(f, _DIR_FLAGS)
            except OSError:
                continue
            stack.append((fd, os.listdir(fd)))
            while stack:
                fd, names = stack[-1]
                if not names:
                    os.close(stack.pop()[0])
                    continue
                name = names.pop()
                entries += 1
                if entries > limits.disk_entries:
                    return False
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    total += st.st_blocks * 512
                    if stat.S_ISDIR(st.st_mode):
                        if len(stack) >= MAX_POLLED_DEPTH:
                            return False
                        sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
                        stack.append((sub, []))
                        stack[-1][1].extend(os.listdir(sub))
                except OSError:
                    continue
                if total > limits.disk_bytes:
                    return False
        return True
    finally:
        for fd, _ in stack:
            os.close(fd)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

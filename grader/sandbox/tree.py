"""Folders a student controls, handled without trusting their shape: a walk with depth, entry and byte caps,
a sparse-aware bounded copy, and a removal that cannot raise.

Everything works on directory file descriptors and an explicit stack, never on full paths or recursion, so a
folder 1,200 levels deep (longer than PATH_MAX, deeper than Python's recursion limit) is walked, copied up to
the depth cap and removed like any other. Symbolic links are never followed and anything that is neither a
regular file nor a folder (a FIFO, a device) is never opened.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

COPY_CHUNK = 1 << 20  # bytes read and written at once
NOT_COPIED = frozenset({".git"})  # the history is not the submission (and can be large)


@dataclass(frozen=True)
class TreeCaps:
    """Bounds on a submission folder (what is beyond them is left out, with a note)."""

    max_depth: int = 16  # folder levels below the top
    max_entries: int = 5_000  # files and folders walked
    max_file_bytes: int = 64 << 20  # one file's apparent size (a sparse file counts at its full size)
    max_bytes: int = 256 << 20  # all copied files together, apparent sizes


@dataclass
class Listing:
    """What a bounded walk found (paths relative to the top, '/'-separated)."""

    files: list[tuple[str, int]] = field(default_factory=list)  # (path, apparent size in bytes) of regular files
    folders: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # symbolic links: never followed, never copied
    left_out: list[str] = field(default_factory=list)  # why things were left out, one note each

    def notes(self) -> list[str]:
        notes = []
        if self.links:
            notes.append(f"symbolic links are not followed and were left out: {', '.join(self.links[:10])}"
                         + (f" and {len(self.links) - 10} more" if len(self.links) > 10 else ""))
        return notes + self.left_out[:10] + ([f"{len(self.left_out) - 10} more things were left out"]
                                             if len(self.left_out) > 10 else [])


def _open_dir(name: str, dir_fd: int | None = None) -> int:
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


def walk(folder: Path, caps: TreeCaps = TreeCaps(), copy_to: Path | None = None, first: str | None = None) -> Listing:
    """Walk `folder` within `caps` (and copy what is kept to `copy_to`, a new folder, when given); the top-level
    entry `first` (the graded file) is taken before anything else, so no cap can leave it out. Raises OSError
    only when `folder` itself cannot be opened."""
    listing = Listing()
    top = _open_dir(str(folder))
    dest_top = None
    if copy_to is not None:
        os.mkdir(copy_to, 0o755)
        dest_top = _open_dir(str(copy_to))
    stack: list[tuple[int, int | None, str, int, list[str]]] = []  # (fd, copy's fd, relative path, depth, names)
    try:
        names = sorted(os.listdir(top), key=lambda name: (name == first, name))  # popped from the end
        stack.append((top, dest_top, "", 0, names))
        entries, total = 0, 0
        while stack:
            fd, dest, rel, depth, names = stack[-1]
            if not names:
                stack.pop()
                for f in (fd, dest):
                    if f is not None and f not in (top, dest_top):
                        os.close(f)
                continue
            name = names.pop()
            path = f"{rel}{name}"
            if name in NOT_COPIED:
                continue
            entries += 1
            if entries > caps.max_entries:
                listing.left_out.append(f"the folder holds more than {caps.max_entries:,} files and folders; "
                                        f"the rest was left out")
                break
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                listing.links.append(path)
            elif stat.S_ISDIR(st.st_mode):
                if depth + 1 > caps.max_depth:
                    listing.left_out.append(f"{_short(path)}/ is more than {caps.max_depth} folders deep; it was "
                                            f"left out")
                    continue
                try:
                    sub = _open_dir(name, fd)
                except OSError:
                    continue
                sub_dest = None
                if dest is not None:
                    os.mkdir(name, 0o755, dir_fd=dest)
                    sub_dest = _open_dir(name, dest)
                listing.folders.append(path)
                try:
                    children = sorted(os.listdir(sub))
                except OSError:
                    children = []
                stack.append((sub, sub_dest, path + "/", depth + 1, children))
            elif stat.S_ISREG(st.st_mode):
                if st.st_size > caps.max_file_bytes:
                    listing.left_out.append(f"{_short(path)} is {st.st_size:,} bytes (more than "
                                            f"{caps.max_file_bytes:,}); it was left out")
                elif total + st.st_size > caps.max_bytes:
                    listing.left_out.append(f"{_short(path)} was left out: the files before it already hold "
                                            f"{total:,} bytes (at most {caps.max_bytes:,} are copied)")
                else:
                    if dest is not None:
                        _copy_file(name, fd, dest, st.st_size)
                    total += st.st_size
                    listing.files.append((path, st.st_size))
            else:
                listing.left_out.append(f"{_short(path)} is not a regular file or folder (a FIFO, socket or "
                                        f"device); it was left out")
    finally:
        for fd, dest, *_ in stack:
            for f in (fd, dest):
                if f is not None and f not in (top, dest_top):
                    os.close(f)
        os.close(top)
        if dest_top is not None:
            os.close(dest_top)
    return listing


def _short(path: str) -> str:
    return path if len(path) <= 200 else f"{path[:80]}...{path[-80:]}"


def _copy_file(name: str, src_dir: int, dest_dir: int, size: int) -> None:
    """Copy one regular file, holes kept as holes (SEEK_DATA/SEEK_HOLE), at most `size` bytes: a file that
    grew since it was measured is cut there. O_NONBLOCK: a file swapped for a FIFO meanwhile cannot block."""
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src_dir)
    try:
        if not stat.S_ISREG(os.fstat(src).st_mode):
            return
        dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644, dir_fd=dest_dir)
        try:
            offset = 0
            while offset < size:
                try:
                    data = os.lseek(src, offset, os.SEEK_DATA)
                except OSError:  # ENXIO: nothing but a hole is left
                    break
                if data >= size:
                    break
                hole = min(os.lseek(src, data, os.SEEK_HOLE), size)
                while data < hole:
                    chunk = os.pread(src, min(COPY_CHUNK, hole - data), data)
                    if not chunk:  # the file shrank since it was measured
                        break
                    os.pwrite(dst, chunk, data)
                    data += len(chunk)
                if data < hole:
                    break
                offset = hole
            os.ftruncate(dst, size)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def remove_tree(path: Path) -> None:
    """Remove `path` and everything under it, however deep; never raises (what cannot be removed stays)."""
    try:
        if not stat.S_ISDIR(os.stat(path, follow_symlinks=False).st_mode):
            os.unlink(path)
            return
        top = _open_dir(str(path))
    except OSError:
        return
    stack: list[tuple[int, str, list[str]]] = []  # (folder's fd, its name in its parent, names left in it)
    try:
        stack.append((top, "", os.listdir(top)))
        while stack:
            fd, own_name, names = stack[-1]
            if not names:
                stack.pop()
                os.close(fd)
                if stack:
                    _ignore_errors(os.rmdir, own_name, dir_fd=stack[-1][0])
                continue
            name = names.pop()
            try:
                if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    sub = _open_dir(name, fd)
                    stack.append((sub, name, []))
                    stack[-1][2].extend(os.listdir(sub))
                else:
                    os.unlink(name, dir_fd=fd)
            except OSError:
                pass
    except OSError:
        pass
    finally:
        for fd, *_ in stack:
            _ignore_errors(os.close, fd)
    _ignore_errors(os.rmdir, path)


def _ignore_errors(fn, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except OSError:
        pass


SAFE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,200}")  # the names the child's grader code gives its outputs


def copy_outputs(src: Path, dest: Path, max_file_bytes: int, max_bytes: int) -> None:
    """The child's outputs, kept: the regular files directly in `src` with names the grader's child code
    uses, each at most `max_file_bytes` and all at most `max_bytes`; anything else the child left there
    (folders, links, FIFOs, other names) is not the grader's and stays behind."""
    os.mkdir(dest, 0o755)
    total = 0
    try:
        src_fd = _open_dir(str(src))
    except OSError:
        return
    dest_fd = _open_dir(str(dest))
    try:
        for name in sorted(os.listdir(src_fd)):
            if not SAFE_NAME.fullmatch(name):
                continue
            try:
                st = os.stat(name, dir_fd=src_fd, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size > max_file_bytes or total + st.st_size > max_bytes:
                continue
            total += st.st_size
            try:
                _copy_file(name, src_fd, dest_fd, st.st_size)
            except OSError:
                continue
    finally:
        os.close(src_fd)
        os.close(dest_fd)

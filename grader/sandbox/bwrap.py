"""The bubblewrap command line of a child: which parts of the file system it sees, read-only, and which
it may write. The grader's own tree is never bound whole: only `CHILD_MODULES`."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from grader.sandbox.limits import Isolation

INSIDE = Path("/sandbox")  # where the scratch directory appears inside bubblewrap
# The only grader modules the child imports (grader.sandbox.child and what it imports), relative to the
# `grader` package; inside bubblewrap they are all the child sees of the grader's tree. A module added to
# the child's imports must be listed here (tests/grader/test_sandbox.py checks the list against the imports).
CHILD_MODULES = ("__init__.py", "engine.py", "sandbox/__init__.py", "sandbox/child.py", "sandbox/contract.py",
                 "sandbox/errors.py", "sandbox/guard.py", "sandbox/protocol.py", "sandbox/slicing.py", "sandbox/tasks.py",
                 "sandbox/trace.py", "sandbox/watch.py")
SYSTEM_DIRS = ("/usr", "/etc", "/lib", "/lib64", "/lib32", "/bin", "/sbin")


def reference_paths() -> list[Path]:
    """Where the reference solutions live (hidden from student code)."""
    spec = importlib.util.find_spec("solutions")
    return [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []


def existing(paths: list[Path]) -> list[Path]:
    return [p.resolve() for p in paths if p.exists()]


def _python_paths() -> list[Path]:
    """Directories the child's Python needs: interpreter prefixes and the parent's import path."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).resolve().parent.parent}
    paths.update(Path(p) for p in sys.path if p and Path(p).is_dir())
    return sorted({p.resolve() for p in paths})


def grader_root() -> Path:
    """The directory holding the `grader` package: a source checkout or an installation's site-packages."""
    return Path(__file__).resolve().parent.parent.parent


def _is_site_dir(p: Path) -> bool:
    return p.name in ("site-packages", "dist-packages")


def import_paths() -> list[Path]:
    """The child's PYTHONPATH: the parent's import path, with the grader's root always in it (the parent's
    sys.path may reach the grader only through "" or the current directory, which the child does not share)."""
    paths = _python_paths()
    return paths if grader_root() in paths else paths + [grader_root()]


def bwrap_argv(iso: Isolation, scratch: Path, space: Path, hidden: list[Path], uid: int | None = None,
               tmp_bytes: int = 1 << 30) -> list[str]:
    """The bwrap command for a child of `scratch` (submission/ and in/, read-only) writing only to `space`
    (out/ and work/) and a /tmp of `tmp_bytes`."""
    # As root, keep the real user namespace so that setpriv can switch to the unprivileged uid; otherwise
    # a new user namespace is what lets an ordinary user run bwrap at all.
    unshare = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"] \
        if iso.drop_uid else ["--unshare-all"]
    argv = [iso.bwrap, *unshare, "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
            "--size", str(tmp_bytes), "--tmpfs", "/tmp", "--dir", "/var/tmp"]
    for sys_dir in SYSTEM_DIRS:
        argv += ["--ro-bind-try", sys_dir, sys_dir]
    # The grader's own tree is never bound whole: a source checkout holds solutions/ (and its history in
    # .git/), the rubric, the calibration and the reference classifier. Only CHILD_MODULES are bound, into
    # an otherwise empty grader/ folder (and solutions/, which `hidden` covers for every student). An
    # installed grader lives in site-packages, which Python needs: that is bound, with the grader's and the
    # checks' packages covered by empty folders; so is a checkout inside another directory on the import
    # path (the checkout is covered).
    root = grader_root()
    installed = _is_site_dir(root)
    bound = [p for p in _python_paths() if p != root or installed]
    outer = [p for p in bound if p == root or not p.is_relative_to(root)]
    inner = [p for p in bound if p not in outer]  # e.g. a virtual environment inside the checkout
    covers = [root / pkg for pkg in ("grader", "checks") if (root / pkg).is_dir()] if installed else \
        [root] if any(root.is_relative_to(p) for p in outer) else []
    # Directories bwrap creates on the way to a bind target are private to root unless made otherwise,
    # which would lock the unprivileged uid out of /work/... or /root/...
    targets = bound + [INSIDE / "x"] + [root / "grader" / m for m in CHILD_MODULES]
    parents = sorted({a for p in targets for a in p.parents if str(a) != "/"},
                     key=lambda a: len(a.parts))
    for a in parents:
        argv += ["--perms", "0755", "--dir", str(a)]
    for p in outer:
        argv += ["--ro-bind", str(p), str(p)]
    for c in covers:
        argv += ["--perms", "0755", "--tmpfs", str(c)]
    for a in parents:  # again, for the folders the covers hid
        if any(a.is_relative_to(c) and a != c for c in covers):
            argv += ["--perms", "0755", "--dir", str(a)]
    for p in inner:
        argv += ["--ro-bind", str(p), str(p)]
    if covers or installed:
        argv += ["--perms", "0755", "--dir", str(root / "grader")]
    for module in CHILD_MODULES:
        argv += ["--ro-bind", str(root / "grader" / module), str(root / "grader" / module)]
    # The reference solutions are bound too, for grading the bundled reference itself (it imports them);
    # for a student, grade() lists them in `hidden`, whose empty folders below cover them.
    for ref in reference_paths():
        argv += ["--ro-bind", str(ref), str(ref)]
    for c in covers:
        argv += ["--remount-ro", str(c)]
    # An empty read-only directory (or /dev/null for a file) over each hidden path that a bind above exposes;
    # covering one that nothing exposes would only create its parent folders for the child to see.
    visible = outer + inner + reference_paths() + [Path(d) for d in SYSTEM_DIRS]
    for p in hidden:
        if any(p.is_relative_to(v) for v in visible):
            argv += ["--tmpfs", str(p), "--remount-ro", str(p)] if p.is_dir() else ["--ro-bind", "/dev/null", str(p)]
    argv += ["--ro-bind", str(scratch / "submission"), str(INSIDE / "submission"),
             "--ro-bind", str(scratch / "in"), str(INSIDE / "in"),
             "--bind", str(space / "out"), str(INSIDE / "out"),
             "--bind", str(space / "work"), str(INSIDE / "work"), "--chdir", str(INSIDE / "work")]
    if iso.drop_uid:  # bwrap runs as root to mount; setpriv then drops to the unprivileged uid for good
        argv += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return argv



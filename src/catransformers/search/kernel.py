"""BoTorch's fused qLogNEHVI kernel: use it when it can be had without an unexplained wait, else pure PyTorch.

botorch 0.18.1 (`acquisition/multi_objective/logei.py`, `_try_load_fused_kernel`) JIT-compiles
`logei_fused_ext` with `torch.utils.cpp_extension.load` on the first acquisition function (43-70 s here, needs
a C++ compiler), into ~/.cache/torch_extensions (or $TORCH_EXTENSIONS_DIR). torch guards the build folder with
a `FileBaton` file named `lock` that records no owner; a process killed mid-build leaves it, and every later load
(even of an already built kernel) waits on it forever at 0 % CPU. The kernel only speeds up the same
computation (BO proposals about 3x faster here), so it is worth having, but never worth a hang:

* catransformers processes serialise their load under their own lock (`<name>.catransformers.lock`, released
  by the OS if the process dies) and write their pid to `lock.owner` next to torch's `lock` while loading;
* a `lock` whose recorded owner is dead is stale (that build was killed): it is removed and the build redone;
* any other `lock` (no owner: a foreign build, or one left by `touch`) is not waited on: this process uses
  botorch's pure-PyTorch path and says so once, naming the file to delete if no build is running;
* no compiler, a failed build, or ``search.fused_logei = false``: the pure-PyTorch path (botorch's own fallback).

Waits longer than a few seconds (another search building, a first build) are announced through `notify`.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

EXTENSION = "logei_fused_ext"
GUARD_POLL_S = 5.0  # how often a wait on another search's build is announced (this project's choice)
GUARD_MAX_WAIT_S = 300.0  # after this, give up on the kernel and use pure PyTorch (this project's choice)
OWNER_FILE = "lock.owner"


def _pure() -> None:
    from botorch.acquisition.multi_objective import logei

    if logei._C is None:
        logei._load_attempted = True  # botorch's once-only switch: _C stays None -> the pure-PyTorch path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_verdict(build_dir: Path) -> str:
    """'free' (no lock), 'stale' (owner recorded and dead: removed here) or 'unexplained' (leave it, do not wait)."""
    lock, owner = build_dir / "lock", build_dir / OWNER_FILE
    if not lock.exists():
        owner.unlink(missing_ok=True)
        return "free"
    try:
        pid = int(owner.read_text().strip())
    except (OSError, ValueError):
        return "unexplained"
    if pid != os.getpid() and _alive(pid):
        return "unexplained"
    lock.unlink(missing_ok=True)
    owner.unlink(missing_ok=True)
    return "stale"


@contextmanager
def _interrupt_after() -> Iterator[None]:
    """Hold Ctrl-C during the build and raise it afterwards: botorch's loader catches every exception of a failed
    build (a KeyboardInterrupt included) and would otherwise swallow the user's interrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def prepare_logei_kernel(notify: Callable[[str], None] | None = None, enabled: bool = True) -> str:
    """Load the fused kernel if that needs no unexplained wait; returns 'fused' or 'pure: <why>'."""
    from botorch.acquisition.multi_objective import logei

    say = notify or _stderr
    if logei._C is not None:
        return "fused"
    if logei._load_attempted:
        return "pure: botorch already chose"
    if not enabled:
        _pure()
        return "pure: search.fused_logei is false"
    if not any(shutil.which(c) for c in (os.environ.get("CXX", "c++"), "g++", "clang++")):
        _pure()
        return "pure: no C++ compiler"
    from torch.utils.cpp_extension import _get_build_directory

    build = Path(_get_build_directory(EXTENSION, verbose=False))
    guard = FileLock(str(build.parent / f"{EXTENSION}.catransformers.lock"))
    t0 = time.monotonic()
    while True:
        try:
            guard.acquire(timeout=GUARD_POLL_S)
            break
        except Timeout:
            waited = time.monotonic() - t0
            if waited >= GUARD_MAX_WAIT_S:
                _pure()
                return "pure: another search's kernel build took too long"
            say(f"waiting {waited:.0f} s for another search building BoTorch's qLogNEHVI kernel in {build}")
    try:
        verdict = lock_verdict(build)
        if verdict == "unexplained":
            _pure()
            say(f"BoTorch's kernel folder is locked by {build / 'lock'} with no live owner on record: using the "
                "pure-PyTorch qLogNEHVI (slower); delete that file if no build is running")
            return "pure: unexplained lock"
        if not any(build.glob(f"{EXTENSION}*.so")):
            say("building BoTorch's fused qLogNEHVI kernel (once per user, about a minute)")
        (build / OWNER_FILE).write_text(str(os.getpid()))
        with _interrupt_after():
            logei._try_load_fused_kernel()  # botorch falls back to pure PyTorch itself if the build fails
    finally:
        (build / OWNER_FILE).unlink(missing_ok=True)
        guard.release()
    return "fused" if logei._C is not None else "pure: the build failed"

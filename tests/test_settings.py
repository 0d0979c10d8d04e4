"""chalicelib/settings.py: configuration read once from the stage's environment."""

from __future__ import annotations

import os

import pytest
from chalicelib import settings as settings_module
from chalicelib.settings import threads_for, usable_cpus


@pytest.mark.parametrize(
    "memory_mb, cpus, threads",
    [
        (None, 2, 2),
        ("128", 2, 1),
        ("1769", 2, 1),
        ("1770", 2, 2),
        ("3538", 2, 2),
        ("10240", 2, 2),
        ("10240", 6, 6),
    ],
)
def test_threads_follow_the_vcpus_lambda_memory_buys(
    monkeypatch: pytest.MonkeyPatch, memory_mb: str | None, cpus: int, threads: int
) -> None:
    monkeypatch.setattr(settings_module, "usable_cpus", lambda: cpus)
    env = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory_mb} if memory_mb else {}
    assert threads_for(env) == threads


def test_usable_cpus_without_an_affinity_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS has no os.sched_getaffinity: the CPU count stands in (app.py must import there)."""
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert usable_cpus() == 8
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert usable_cpus() == 1

"""What `python -m devtools.demo_model rebuild` says before it renders: whether this CPU can
give the committed demo's renders again (the rebuild itself takes an hour; not run here)."""

from __future__ import annotations

from devtools.demo_model import RENDERED_WITH, cpu_flags, other_renders_caution


def test_a_cpu_without_the_renders_flag_is_told_its_model_will_differ() -> None:
    caution = other_renders_caution({"sse4_2", "avx2"})
    assert caution is not None and RENDERED_WITH in caution and "will not give the committed" in caution


def test_a_cpu_like_the_renders_one_or_an_unknown_one_is_told_nothing() -> None:
    assert other_renders_caution({"avx2", RENDERED_WITH}) is None
    assert other_renders_caution(None) is None


def test_this_machines_flags_are_read() -> None:
    flags = cpu_flags()
    assert flags is None or "sse2" in flags  # every x86-64 CPU has it; None off Linux

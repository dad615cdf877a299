"""What the benchmarks share: one way to print a figure, and the statistics they report."""

from __future__ import annotations


def result(key: str, value: str, note: str = "") -> None:
    """One figure, as every benchmark prints it: ``RESULT key = value   # note``."""
    print(f"RESULT {key} = {value}" + (f"   # {note}" if note else ""), flush=True)


def pct(xs: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"

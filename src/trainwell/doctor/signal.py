"""Small, dependency-free signal helpers the checks share: robust smoothing, positions in the run,
peak prominence. Pure functions over lists so that live mode and offline mode agree exactly."""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def odd_window(n: int, fraction: float, minimum: int = 3) -> int:
    """An odd window of about ``fraction`` of ``n`` points, at least ``minimum`` (and at most n)."""
    width = max(minimum, int(n * fraction))
    width = min(width, n if n % 2 else n - 1)
    return max(1, width if width % 2 else width - 1)


# Running medians computed during one ``memoised`` block, by (the list's id, its length, the window), with the list kept
# so its id cannot be reused: half a dozen checks smooth the same train loss, and on a 24,000-step log each smoothing
# costs 0.02 CPU s. Scoped to the block (a ContextVar reset on exit); the checks inside it do not mutate the series.
_MEDIANS: ContextVar[dict[tuple[int, int, int], tuple[Sequence[float], list[float]]] | None] = ContextVar(
    "trainwell_doctor_medians", default=None
)


@contextmanager
def memo_scope(memo: ContextVar[dict[K, V] | None]) -> Iterator[None]:
    """An empty memo in ``memo`` for the block, and the one before it (usually none) back after it."""
    token = memo.set({})
    try:
        yield
    finally:
        memo.reset(token)


def memoised() -> AbstractContextManager[None]:
    """Within the block a running median of the same list and window is computed once."""
    return memo_scope(_MEDIANS)


def rolling_median(values: Sequence[float], window: int) -> list[float]:
    """Centred running median; the median ignores single-batch outliers that a mean would smear."""
    memo = _MEDIANS.get()
    if memo is None:
        return _rolling_median(values, window)
    key = (id(values), len(values), window)
    hit = memo.get(key)
    if hit is None or hit[0] is not values:
        hit = memo[key] = (values, _rolling_median(values, window))
    return list(hit[1])  # a copy: a caller may edit its result


def _rolling_median(values: Sequence[float], window: int) -> list[float]:
    half = window // 2
    n = len(values)
    # A sorted sliding window (bisect insert/remove) instead of sorting every window afresh: the same
    # medians, in O(n * window) memmove rather than O(n * window log window) Python work, so a
    # 7,500-row Lightning CSV is read in milliseconds.
    ordered = sorted(values[: min(n, half + 1)])
    lo, hi = 0, min(n, half + 1)  # the window [lo, hi) that ``ordered`` holds
    out = []
    insort, bisect_left = bisect.insort, bisect.bisect_left
    for i in range(n):
        if i > half and i + half < n:  # the full window slides by one: the fast path for all but the ends
            insort(ordered, values[hi])
            del ordered[bisect_left(ordered, values[lo])]
            lo, hi = lo + 1, hi + 1
            out.append(ordered[half])
            continue
        want_lo, want_hi = max(0, i - half), min(n, i + half + 1)
        while hi < want_hi:
            bisect.insort(ordered, values[hi])
            hi += 1
        while lo < want_lo:
            del ordered[bisect.bisect_left(ordered, values[lo])]
            lo += 1
        k = len(ordered)
        out.append(ordered[k // 2] if k % 2 else (ordered[k // 2 - 1] + ordered[k // 2]) / 2)
    return out


def smooth(values: Sequence[float], fraction: float) -> list[float]:
    return rolling_median(values, odd_window(len(values), fraction)) if len(values) >= 3 else list(values)


def head_level(values: Sequence[float], fraction: float) -> float:
    """The median of the first ``fraction`` of the points (at least 2): where the curve started."""
    k = max(2, int(len(values) * fraction))
    return statistics.median(values[:k])


def tail_level(values: Sequence[float], fraction: float) -> float:
    """The median of the last ``fraction`` of the points (at least 2): where the curve ended."""
    k = max(2, int(len(values) * fraction))
    return statistics.median(values[-k:])


def mad(values: Sequence[float]) -> float:
    """Median absolute deviation, scaled to match a normal standard deviation."""
    if not values:
        return 0.0
    centre = statistics.median(values)
    return 1.4826 * statistics.median(abs(v - centre) for v in values)


def step_jitter(values: Sequence[float]) -> float:
    """A curve's point-to-point noise as a standard deviation: the MAD of successive differences over sqrt 2 (a steady
    trend moves every difference alike and adds none); 0 with fewer than two differences."""
    diffs = [b - a for a, b in itertools.pairwise(values)]
    return mad(diffs) / math.sqrt(2) if len(diffs) >= 2 else 0.0


def position(step: float, first: float, last: float) -> float:
    """Where ``step`` lies in the run, 0 at the first logged step and 1 at the last."""
    return (step - first) / (last - first) if last > first else 1.0


def prominent_peaks(values: Sequence[float], min_prominence: float) -> list[tuple[int, float]]:
    """(index, prominence) of local maxima standing at least ``min_prominence`` above both valleys.

    Topographic prominence: from a peak, walk each way until a higher point (or the end); the higher of
    the two lowest points on those walks is the key col. A steady rise (overfitting) has no prominent
    peak; a loss that goes up and comes back down does.
    """
    n = len(values)
    # The walks end at the previous / next strictly higher point, and each walk's minimum is carried on a monotonic
    # stack: an entry holds the lowest value between the entry below it and itself, and a point that pops entries
    # inherits their minima. Linear in n (slicing from each peak to its higher neighbour was quadratic on a long,
    # smoothly falling curve: 0.15 s on a 24,000-step log).
    left = _walk_minima(values, range(n))
    right = _walk_minima(values, range(n - 1, -1, -1))
    peaks = []
    for i in range(1, n - 1):
        if not (values[i] > values[i - 1] and values[i] >= values[i + 1]):
            continue
        prominence = values[i] - max(left[i], right[i])
        if prominence >= min_prominence:
            peaks.append((i, prominence))
    return peaks


def _walk_minima(values: Sequence[float], order: range) -> list[float]:
    """For each index, the lowest value from it back (in ``order``) to just after the nearest strictly higher point,
    itself included: the low point of a topographic walk from a peak in that direction."""
    lowest = [0.0] * len(values)
    stack: list[tuple[float, float]] = []  # (value, lowest value since the entry below it)
    for i in order:
        value = low = values[i]
        while stack and stack[-1][0] <= value:
            low = min(low, stack.pop()[1])
        stack.append((value, low))
        lowest[i] = low
    return lowest


def chunk_medians(steps: Sequence[float], values: Sequence[float], most: int) -> tuple[list[float], list[float]]:
    """At most ``most`` points: the medians of consecutive equal chunks (the points themselves when there are fewer), so
    pairwise statistics over a 7,500-point log stay cheap and single-batch outliers do not steer them."""
    n = len(values)
    if n <= most:
        return list(steps), list(values)
    bounds = [round(i * n / most) for i in range(most + 1)]
    return (
        [statistics.median(steps[a:b]) for a, b in itertools.pairwise(bounds)],
        [statistics.median(values[a:b]) for a, b in itertools.pairwise(bounds)],
    )


# The two trend statistics below are written here rather than taken from scipy.stats (which scikit-learn brings in):
# `import scipy.stats` costs 0.68-0.73 CPU s on top of numpy's 0.07-0.08 (measured on this machine, 3 runs each),
# against about 0.11 CPU s for the doctor's own modules and the 0.3 s start budget of benchmarks/startup.py and
# tests/test_imports.py (which keeps scipy out of the light verbs; its doctor log reaches these); a lazy import would
# spend that on every log long enough to read a trend. The Theil-Sen slope runs on at most TREND_MAX_POINTS (60) chunk
# medians, so its pairwise loop stays cheap; the Mann-Kendall count also reads raw curves (no_progress's stall reads a
# whole train-only half), so it counts pairs in O(n log n). scipy.stats.theilslopes gives the same slope (equal on 200 random series); scipy has no
# Mann-Kendall z: kendalltau against the index returns tau and a p-value (exact for small samples, tie-corrected
# otherwise), not the normal score the doctor's thresholds were set on.
def mann_kendall_z(values: Sequence[float]) -> float:
    """The Mann-Kendall trend statistic as a normal score (no tie correction): negative for a falling series; |z| >= 1.96
    is a monotone trend at the 5% level however noisy the points, since it counts only which of each pair is larger."""
    n = len(values)
    # S = the sum over pairs (earlier a, later b) of sign(b - a). Each point adds the earlier points below it minus those
    # above it, counted from a Fenwick tree over the value ranks of the points seen so far: O(n log n) where the pairwise
    # sum was O(n^2) (4 s on a 24,000-step log). A NaN compares as neither, so it takes no part in S (n still counts it).
    finite = [v for v in values if not math.isnan(v)]
    rank = {v: r for r, v in enumerate(sorted(set(finite)), start=1)}
    tree = [0] * (len(rank) + 1)

    def seen_up_to(r: int) -> int:  # how many points seen so far have rank <= r
        total = 0
        while r > 0:
            total += tree[r]
            r -= r & -r
        return total

    s = 0
    for seen, v in enumerate(finite):
        r = rank[v]
        s += seen_up_to(r - 1) - (seen - seen_up_to(r))
        while r < len(tree):
            tree[r] += 1
            r += r & -r
    variance = n * (n - 1) * (2 * n + 5) / 18
    if variance <= 0 or s == 0:
        return 0.0
    return (s - (1 if s > 0 else -1)) / math.sqrt(variance)


def theil_sen_slope(steps: Sequence[float], values: Sequence[float]) -> float:
    """The median of the pairwise slopes: a straight-line trend that a few outliers cannot tilt."""
    slopes = [
        (values[j] - values[i]) / (steps[j] - steps[i])
        for i in range(len(values))
        for j in range(i + 1, len(values))
        if steps[j] > steps[i]
    ]
    return statistics.median(slopes) if slopes else 0.0

"""Small, dependency-free signal helpers the checks share: robust smoothing, positions in the run,
peak prominence. Pure functions over lists so that live mode and offline mode agree exactly."""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Sequence


def odd_window(n: int, fraction: float, minimum: int = 3) -> int:
    """An odd window of about ``fraction`` of ``n`` points, at least ``minimum`` (and at most n)."""
    width = max(minimum, int(n * fraction))
    width = min(width, n if n % 2 else n - 1)
    return max(1, width if width % 2 else width - 1)


def rolling_median(values: Sequence[float], window: int) -> list[float]:
    """Centred running median; the median ignores single-batch outliers that a mean would smear."""
    half = window // 2
    n = len(values)
    # A sorted sliding window (bisect insert/remove) instead of sorting every window afresh: the same
    # medians, in O(n * window) memmove rather than O(n * window log window) Python work, so a
    # 7,500-row Lightning CSV is read in milliseconds.
    ordered = sorted(values[: min(n, half + 1)])
    lo, hi = 0, min(n, half + 1)  # the window [lo, hi) that ``ordered`` holds
    out = []
    for i in range(n):
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


def position(step: float, first: float, last: float) -> float:
    """Where ``step`` lies in the run, 0 at the first logged step and 1 at the last."""
    return (step - first) / (last - first) if last > first else 1.0


def prominent_peaks(values: Sequence[float], min_prominence: float) -> list[tuple[int, float]]:
    """(index, prominence) of local maxima standing at least ``min_prominence`` above both valleys.

    Topographic prominence: from a peak, walk each way until a higher point (or the end); the higher of
    the two lowest points on those walks is the key col. A steady rise (overfitting) has no prominent
    peak; a loss that goes up and comes back down does.
    """
    peaks = []
    n = len(values)
    # The walks end at the previous / next strictly higher point: found for every index at once with a
    # monotonic stack, so each walk's minimum is one C-level min() over a slice (the Python-level walk
    # took seconds on a 7,500-point log).
    prev_higher = [-1] * n
    stack: list[int] = []
    for i in range(n):
        while stack and values[stack[-1]] <= values[i]:
            stack.pop()
        prev_higher[i] = stack[-1] if stack else -1
        stack.append(i)
    next_higher = [n] * n
    stack = []
    for i in range(n - 1, -1, -1):
        while stack and values[stack[-1]] <= values[i]:
            stack.pop()
        next_higher[i] = stack[-1] if stack else n
        stack.append(i)
    for i in range(1, n - 1):
        if not (values[i] > values[i - 1] and values[i] >= values[i + 1]):
            continue
        left = min(values[prev_higher[i] + 1 : i + 1])
        right = min(values[i : next_higher[i]])
        prominence = values[i] - max(left, right)
        if prominence >= min_prominence:
            peaks.append((i, prominence))
    return peaks


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


def mann_kendall_z(values: Sequence[float]) -> float:
    """The Mann-Kendall trend statistic as a normal score (no tie correction): negative for a falling series; |z| >= 1.96
    is a monotone trend at the 5% level however noisy the points, since it counts only which of each pair is larger."""
    n = len(values)
    s = sum((b > a) - (b < a) for i, a in enumerate(values) for b in values[i + 1 :])
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

"""How each deployment is doing, from the gateway's own upstream attempts: latency p50/p99,
error rate and the last error, over a sliding window of recent attempts (per process).

Recording is one ``deque.append`` on the request path; percentiles are computed when asked
(``/model/info``, the console).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DeploymentStats"]

WINDOW = 1000  # attempts kept per deployment


@dataclass(slots=True)
class _Series:
    samples: deque[tuple[float, bool]] = field(default_factory=lambda: deque(maxlen=WINDOW))  # (seconds, ok)
    attempts: int = 0
    failures: int = 0
    last_error: str | None = None
    last_error_at: float | None = None


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = max(0, min(len(ordered) - 1, int(-(-fraction * len(ordered) // 1)) - 1))
    return ordered[index]


class DeploymentStats:
    """Outcome and latency of upstream attempts, by deployment id."""

    def __init__(self) -> None:
        self._series: dict[str, _Series] = {}

    def record(self, deployment_id: str, seconds: float, error: str | None = None) -> None:
        """Count one attempt on ``deployment_id`` that took ``seconds`` and failed with ``error`` (a type name) or not."""
        series = self._series.get(deployment_id)
        if series is None:
            series = self._series[deployment_id] = _Series()
        series.samples.append((seconds, error is None))
        series.attempts += 1
        if error is not None:
            series.failures += 1
            series.last_error, series.last_error_at = error, time.time()

    def summary(self, deployment_id: str) -> dict[str, Any]:
        """``{"requests", "errors", "error_rate", "latency_p50_ms", "latency_p99_ms", ...}`` over the window
        (latency of successful attempts; None before the first)."""
        series = self._series.get(deployment_id)
        if series is None or not series.samples:
            return {"requests": 0, "errors": 0, "error_rate": 0.0, "latency_p50_ms": None, "latency_p99_ms": None,
                    "window": 0, "total_requests": 0, "total_errors": 0, "last_error": None, "last_error_at": None}
        samples = list(series.samples)
        errors = sum(1 for _, ok in samples if not ok)
        latencies = sorted(seconds for seconds, ok in samples if ok)
        return {
            "requests": len(samples),
            "errors": errors,
            "error_rate": errors / len(samples),
            "latency_p50_ms": round(_percentile(latencies, 0.50) * 1000, 3) if latencies else None,
            "latency_p99_ms": round(_percentile(latencies, 0.99) * 1000, 3) if latencies else None,
            "window": WINDOW,
            "total_requests": series.attempts,
            "total_errors": series.failures,
            "last_error": series.last_error,
            "last_error_at": series.last_error_at,
        }

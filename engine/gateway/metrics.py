"""Prometheus metrics for ``GET /metrics``, in the text exposition format (version 0.0.4).

Counters and histograms are plain dicts keyed by label values: recording is a dict update on
the request path, rendering walks them on scrape. Figures are per process (per worker).
"""

from __future__ import annotations

import bisect
from typing import Any

__all__ = ["Metrics"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


def _escape(value: Any) -> str:
    return str(value if value is not None else "").replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Histogram:
    __slots__ = ("buckets", "series")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.series: dict[tuple[str, ...], list[float]] = {}  # counts per bucket + [+Inf count, sum]

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        row = self.series.get(labels)
        if row is None:
            row = self.series[labels] = [0.0] * (len(self.buckets) + 2)
        row[bisect.bisect_left(self.buckets, value)] += 1
        row[-1] += value


class Metrics:
    """Request, error, latency, token and spend figures by model and key alias."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, ...], float] = {}
        self.errors: dict[tuple[str, ...], float] = {}
        self.tokens: dict[tuple[str, ...], float] = {}
        self.spend: dict[tuple[str, ...], float] = {}
        self.fallbacks: dict[tuple[str, ...], float] = {}
        self.latency = _Histogram(LATENCY_BUCKETS)
        self.overhead = _Histogram(OVERHEAD_BUCKETS)

    def record(
        self,
        *,
        route: str,
        model: str,
        key_alias: str | None,
        status: int,
        seconds: float,
        overhead: float,
        error_type: str | None = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost: float = 0.0,
    ) -> None:
        """Count one finished request."""
        alias = key_alias or ""
        key = (route, model, alias, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        if error_type:
            ekey = (route, model, alias, error_type)
            self.errors[ekey] = self.errors.get(ekey, 0) + 1
        self.latency.observe((route, model), seconds)
        self.overhead.observe((route, model), overhead)
        if prompt_tokens:
            tkey = (model, alias, "prompt")
            self.tokens[tkey] = self.tokens.get(tkey, 0) + prompt_tokens
        if completion_tokens:
            tkey = (model, alias, "completion")
            self.tokens[tkey] = self.tokens.get(tkey, 0) + completion_tokens
        if cost:
            skey = (model, alias)
            self.spend[skey] = self.spend.get(skey, 0.0) + cost

    def render(self) -> str:
        """The Prometheus text exposition of every series."""
        out: list[str] = []

        def counter(name: str, help_text: str, series: dict[tuple[str, ...], float], labels: tuple[str, ...]) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} counter")
            for values, value in sorted(series.items()):
                pairs = ",".join(f'{label}="{_escape(v)}"' for label, v in zip(labels, values))
                out.append(f"{name}{{{pairs}}} {float(value):.10g}")

        def histogram(name: str, help_text: str, hist: _Histogram, labels: tuple[str, ...]) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} histogram")
            for values, row in sorted(hist.series.items()):
                pairs = ",".join(f'{label}="{_escape(v)}"' for label, v in zip(labels, values))
                running = 0.0
                for bound, count in zip(hist.buckets, row):
                    running += count
                    out.append(f'{name}_bucket{{{pairs},le="{bound:g}"}} {running:g}')
                running += row[len(hist.buckets)]
                out.append(f'{name}_bucket{{{pairs},le="+Inf"}} {running:g}')
                out.append(f"{name}_sum{{{pairs}}} {row[-1]!r}")
                out.append(f"{name}_count{{{pairs}}} {running:g}")

        counter("vertex_engine_requests_total", "Requests answered, by route, model group, key alias and HTTP status.",
                self.requests, ("route", "model", "key_alias", "status"))
        counter("vertex_engine_errors_total", "Failed requests, by route, model group, key alias and error type.",
                self.errors, ("route", "model", "key_alias", "error_type"))
        histogram("vertex_engine_request_duration_seconds", "Whole request time as seen by the gateway.",
                  self.latency, ("route", "model"))
        histogram("vertex_engine_overhead_seconds", "Time spent in the gateway, excluding the upstream call.",
                  self.overhead, ("route", "model"))
        counter("vertex_engine_tokens_total", "Tokens, by model group, key alias and kind (prompt/completion).",
                self.tokens, ("model", "key_alias", "kind"))
        counter("vertex_engine_spend_usd_total", "Cost in USD from the model catalog, by model group and key alias.",
                self.spend, ("model", "key_alias"))
        return "\n".join(out) + "\n"

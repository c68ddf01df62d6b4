"""Pick a deployment for a model group, retry, cool down failing deployments, fall back.

State that several gateway instances must agree on (failure counts, cooldowns, per-deployment
rpm/tpm, in-flight counts) lives in :class:`~engine.gateway.cluster_state.SharedState`; latency
averages stay per process (each instance measures its own path to Google).
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from engine.errors import (
    RETRYABLE,
    APIError,
    BadRequestError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    RateLimitError,
    UnprocessableEntityError,
)

from .config import Deployment, GatewayConfig

__all__ = ["Router", "NoDeploymentAvailable", "UnknownModelGroup"]

log = logging.getLogger("vertex_engine.gateway")
T = TypeVar("T")

MAX_BACKOFF = 30.0
# What a deployment did wrong, so another one is tried and this one cools down: Google's 429/5xx,
# timeouts, resets, and an answer that is not what Google sends (non-JSON, truncated, malformed;
# the engine raises UnprocessableEntityError for those), or a stream that ended before its first event.
DEPLOYMENT_FAULTS = (*RETRYABLE, UnprocessableEntityError)
_LATENCY_ALPHA = 0.3  # weight of the newest sample in the moving average


class UnknownModelGroup(BadRequestError):
    """The requested ``model`` is not a ``model_name`` in the config."""

    status_code = 400


class NoDeploymentAvailable(RateLimitError):
    """Every deployment of the group is cooling down or at its rpm/tpm limit."""


class Router:
    """Load balancing, retries, cooldowns and fallbacks over the config's deployments."""

    def __init__(self, config: GatewayConfig, shared: Any) -> None:
        self.config = config
        self.shared = shared
        self.groups = config.groups()
        # `model_name: "vertex_ai/*"` style entries: the caller's model string is used as is.
        self.wildcards = [(name, deps) for name, deps in self.groups.items() if "*" in name]
        self.latency: dict[str, float] = {}
        self._warm: set[str] = set()  # deployments whose first (cold) call is behind them
        self.strategy = config.routing_strategy

    # --- lookup --------------------------------------------------------------------------------

    def deployments_for(self, model: str) -> list[Deployment]:
        """The deployments serving ``model``; raises :class:`UnknownModelGroup` naming the known groups."""
        found = self.groups.get(model)
        if found:
            return found
        for pattern, deps in self.wildcards:
            if fnmatch.fnmatchcase(model, pattern):
                return [_wildcard_target(d, model) for d in deps]
        names = ", ".join(sorted(n for n in self.groups if "*" not in n)) or "none configured"
        raise UnknownModelGroup(
            f"model {model!r} is not served by this gateway; model_name values in the config: {names}",
            param="model",
        )

    def model_names(self) -> list[str]:
        """Configured model group names, in config order."""
        return list(self.groups)

    # --- choosing ------------------------------------------------------------------------------

    async def _available(self, deployments: list[Deployment], tried: set[str]) -> tuple[list[Deployment], float | None]:
        """Deployments not tried yet, not cooling down, under their rpm/tpm; and the soonest retry hint."""
        candidates = [d for d in deployments if d.id not in tried]
        if not candidates:
            return [], None
        cooling = await self.shared.cooling([d.id for d in candidates])
        ready = [d for d in candidates if d.id not in cooling]
        usable: list[Deployment] = []
        for deployment in ready:
            if deployment.tpm is not None and await self.shared.current(f"deployment-tpm:{deployment.id}") >= deployment.tpm:
                continue
            usable.append(deployment)
        hint = self.config.cooldown_time if cooling and not usable else None
        return usable, hint

    async def _choose(self, usable: list[Deployment]) -> Deployment | None:
        """Order the usable deployments by strategy and take the first under its rpm."""
        if len(usable) > 1:
            usable = await self._ordered(usable)
        for deployment in usable:
            if deployment.rpm is None:
                return deployment
            allowed, _ = await self.shared.hit(f"deployment-rpm:{deployment.id}", 1, deployment.rpm)
            if allowed:
                return deployment
        return None

    async def _ordered(self, usable: list[Deployment]) -> list[Deployment]:
        # `order` (LiteLLM): lower order first; the strategy decides within the best order.
        orders = [d.order for d in usable if d.order is not None]
        if orders:
            best = min(orders)
            head = [d for d in usable if d.order == best]
            tail = [d for d in usable if d.order != best]
            return await self._ordered(head) + tail if len(head) > 1 else head + tail
        if self.strategy == "least-busy":
            busy = {d.id: await self.shared.incr_inflight(d.id, 0) for d in usable}
            return sorted(usable, key=lambda d: (busy[d.id], random.random()))
        if self.strategy == "latency-based-routing":
            # Unmeasured deployments sort first, so each one gets a first sample.
            return sorted(usable, key=lambda d: (self.latency.get(d.id, 0.0), random.random()))
        if self.strategy.startswith("usage-based-routing"):
            used = {d.id: await self.shared.current(f"deployment-tpm:{d.id}") for d in usable}
            return sorted(usable, key=lambda d: (used[d.id], random.random()))
        weights = [d.weight if d.rpm is None else max(d.weight * d.rpm, 1e-9) for d in usable]
        first = random.choices(usable, weights=weights)[0]
        return [first] + [d for d in usable if d is not first]

    # --- bookkeeping ---------------------------------------------------------------------------

    async def _failed(self, deployment: Deployment, error: APIError, group_size: int) -> None:
        failures = await self.shared.record_failure(deployment.id)
        # A 429 from Google means this deployment's quota is spent: with a sibling to take the
        # traffic, stop sending here at once rather than after allowed_fails more 429s.
        rate_limited = error.status_code == 429 and group_size > 1
        if failures > self.config.allowed_fails or rate_limited:
            seconds = self.config.cooldown_time
            if error.retry_after:
                seconds = max(seconds, min(error.retry_after, MAX_BACKOFF))
            await self.shared.start_cooldown(deployment.id, seconds)
            log.warning("deployment %s cooling down for %.1fs after %s", deployment.id, seconds, type(error).__name__)

    def record_latency(self, deployment: Deployment, seconds: float) -> None:
        """Feed the latency-based strategy's moving average. The first call to a deployment pays for
        setting up the connection and the Google token: it is not counted, or a slow start would
        keep a fast deployment out of rotation for good (it is only re-measured when chosen)."""
        if deployment.id not in self._warm:
            self._warm.add(deployment.id)
            return
        previous = self.latency.get(deployment.id)
        self.latency[deployment.id] = seconds if previous is None else previous + _LATENCY_ALPHA * (seconds - previous)

    async def record_tokens(self, deployment: Deployment, tokens: int) -> None:
        """Count tokens against the deployment's tpm window."""
        if tokens and (deployment.tpm is not None or self.strategy.startswith("usage-based-routing")):
            await self.shared.add(f"deployment-tpm:{deployment.id}", tokens)

    # --- the call --------------------------------------------------------------------------------

    def _fallback_chain(self, group: str, error: APIError | None) -> list[str]:
        if isinstance(error, ContextWindowExceededError):
            return self.config.context_window_fallbacks.get(group, []) or self.config.fallbacks.get(group, [])
        if isinstance(error, ContentPolicyViolationError):
            return self.config.content_policy_fallbacks.get(group, [])
        return self.config.fallbacks.get(group, [])

    async def call(
        self,
        model: str,
        invoke: Callable[[Deployment], Awaitable[T]],
        *,
        num_retries: int | None = None,
        on_attempt: Callable[[Deployment], None] | None = None,
    ) -> tuple[T, Deployment]:
        """Run ``invoke`` on a deployment of ``model``, retrying and falling back; return the result and who served it."""
        retries = self.config.num_retries if num_retries is None else num_retries
        visited: list[str] = []
        group = model
        error: APIError | None = None
        while True:
            visited.append(group)
            try:
                return await self._call_group(group, invoke, retries, on_attempt)
            except APIError as exc:
                error = exc
            if isinstance(error, UnknownModelGroup) and group == model:
                raise error
            if isinstance(error, BadRequestError) and not isinstance(
                error, (ContextWindowExceededError, ContentPolicyViolationError)
            ):
                raise error
            chain = [g for g in self._fallback_chain(model, error) if g not in visited]
            if not chain:
                raise error
            log.warning("model group %s failed (%s); falling back to %s", group, type(error).__name__, chain[0])
            group = chain[0]

    async def _call_group(
        self,
        group: str,
        invoke: Callable[[Deployment], Awaitable[T]],
        retries: int,
        on_attempt: Callable[[Deployment], None] | None,
    ) -> tuple[T, Deployment]:
        deployments = self.deployments_for(group)
        tried: set[str] = set()
        last: APIError | None = None
        for attempt in range(retries + 1):
            usable, hint = await self._available(deployments, tried)
            if not usable and tried:
                # Every deployment has had its try: start a new round over whichever can serve.
                tried.clear()
                usable, hint = await self._available(deployments, tried)
            deployment = await self._choose(usable) if usable else None
            if deployment is None:
                if last is not None:
                    raise last
                reason = "cooling down after failures" if hint else "at their rpm/tpm limit"
                raise NoDeploymentAvailable(
                    f"no deployment of model group {group!r} can take a request now: all are {reason}",
                    response_headers={"retry-after": str(int(hint or 1))},
                )
            if on_attempt is not None:
                on_attempt(deployment)
            await self.shared.incr_inflight(deployment.id, 1)
            started = time.perf_counter()
            try:
                result = await invoke(deployment)
            except APIError as exc:
                last = exc
                if not isinstance(exc, DEPLOYMENT_FAULTS) or attempt == retries:
                    if isinstance(exc, DEPLOYMENT_FAULTS):
                        await self._failed(deployment, exc, len(deployments))
                    raise
                await self._failed(deployment, exc, len(deployments))
                tried.add(deployment.id)
                if len(tried) >= len(deployments):
                    await asyncio.sleep(self._backoff(attempt, exc))
                continue
            finally:
                await self.shared.incr_inflight(deployment.id, -1)
            self.record_latency(deployment, time.perf_counter() - started)
            return result, deployment
        assert last is not None
        raise last

    def _backoff(self, attempt: int, error: APIError) -> float:
        hinted = error.retry_after
        if hinted is not None:
            return min(max(hinted, 0.0), MAX_BACKOFF)
        base = self.config.retry_after or 0.25
        return min(base * (2**attempt), MAX_BACKOFF) * (0.75 + random.random() / 2)


def _wildcard_target(deployment: Deployment, model: str) -> Deployment:
    """A wildcard deployment bound to the caller's model string."""
    prefix = deployment.model.split("*", 1)[0]
    target = model if model.startswith(prefix) or not prefix else prefix + model
    return Deployment(
        id=f"{deployment.id}:{model}",
        model_name=model,
        model=target,
        params=deployment.params,
        rpm=deployment.rpm,
        tpm=deployment.tpm,
        weight=deployment.weight,
        mode=deployment.mode,
    )

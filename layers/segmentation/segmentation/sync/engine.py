"""Sends one operation for many contacts through an adapter: batching, rate limiting, retries, splitting.

* **Batching**: contacts are cut into the platform's batch size for the operation.
* **Rate limiting**: every request first takes a slot from the channel's limiter (``ratelimit``).
* **Retries**: a throttle waits for the platform's hint (Retry-After, reset header, Shopify's restore rate,
  ...) or the spec's ``throttle_wait``, else exponential backoff with jitter; 5xx/timeouts back off the
  same way; per-record retryable outcomes inside a 2xx are resent on their own.
* **Splitting**: a request rejected as a whole (a 4xx for the batch) is halved until the bad records are
  isolated; each of those is terminal, the rest go through.
* **Budget**: waiting never runs past the deadline (the Lambda's remaining time). Whatever is still
  retryable then comes back as RETRY with the wait the platform asked for, and the task is handed back to
  the queue with that visibility timeout instead of sleeping in Lambda.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from segmentation.sync.adapters.base import (
    ChannelAdapter,
    Contact,
    Operation,
    Outcome,
    Outcomes,
    Rejected,
    Retryable,
    Throttled,
    Verdict,
    retry,
    terminal,
)
from segmentation.sync.ratelimit import Clock, RateLimiter


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 0.5
    cap: float = 60.0
    max_attempts: int = 6  # requests per batch in one run, the first included


@dataclass
class EngineStats:
    requests: int = 0
    throttled: int = 0
    retried: int = 0
    split: int = 0
    waited: float = 0.0
    errors: list[str] = field(default_factory=list)


class DeliveryEngine:
    def __init__(
        self,
        adapter: ChannelAdapter,
        limiter: RateLimiter,
        clock: Clock,
        *,
        deadline: float,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.adapter = adapter
        self.spec = adapter.spec
        self.limiter = limiter
        self.clock = clock
        self.deadline = deadline
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()
        self.stats = EngineStats()

    def run(self, operation: Operation, target: object, contacts: list[Contact]) -> Outcomes:
        """The final outcome for every contact (RETRY when the budget ran out)."""
        final: Outcomes = {}
        size = max(1, self.spec.batch_size(operation))
        for start in range(0, len(contacts), size):
            self._send(operation, target, contacts[start : start + size], final)
        return final

    # ----------------------------------------------------------------------------------------------

    def _call(self, operation: Operation) -> Callable[[object, list[Contact]], Outcomes]:
        return {
            "upsert": self.adapter.upsert,
            "add": self.adapter.add,
            "remove": self.adapter.remove,
        }[operation]  # type: ignore[return-value]

    def _backoff(self, attempt: int) -> float:
        # Full jitter: spreads the retries of many tasks instead of synchronising them.
        return self.rng.uniform(self.policy.base, min(self.policy.cap, self.policy.base * 2**attempt))

    def _wait(self, seconds: float) -> bool:
        """Sleep if the budget allows it; False means hand the rest back to the queue."""
        if self.clock.time() + seconds > self.deadline:
            return False
        self.clock.sleep(seconds)
        self.stats.waited += seconds
        return True

    def _send(self, operation: Operation, target: object, batch: list[Contact], final: Outcomes) -> None:
        todo = batch
        bucket = self.spec.bucket(operation)
        for attempt in range(1, self.policy.max_attempts + 1):
            slot = self.limiter.wait_time(bucket)
            if slot > 0 and not self._wait(slot):
                _give_back(todo, final, "rate limit window full", slot)
                return
            self.limiter.current_bucket = bucket  # the adapter's requests draw from it (PacedHttp)
            self.stats.requests += 1
            try:
                outcomes = self._call(operation)(target, todo)
            except Throttled as exc:
                self.stats.throttled += 1
                wait = exc.retry_after if exc.retry_after is not None else self.spec.throttle_wait
                wait = wait if wait is not None else self._backoff(attempt)
                if attempt == self.policy.max_attempts or not self._wait(wait):
                    _give_back(todo, final, str(exc), wait)
                    return
                self.stats.retried += 1
                continue
            except Retryable as exc:
                self.stats.errors.append(str(exc))
                wait = exc.retry_after if exc.retry_after is not None else self._backoff(attempt)
                if attempt == self.policy.max_attempts or not self._wait(wait):
                    _give_back(todo, final, str(exc), wait)
                    return
                self.stats.retried += 1
                continue
            except Rejected as exc:
                self.stats.errors.append(str(exc))
                if len(todo) == 1:
                    final[todo[0].customer_id] = terminal(str(exc))
                    return
                self.stats.split += 1
                middle = len(todo) // 2
                self._send(operation, target, todo[:middle], final)
                self._send(operation, target, todo[middle:], final)
                return
            again: list[Contact] = []
            hint: float | None = None
            for contact in todo:
                outcome = outcomes.get(contact.customer_id) or retry("no answer for this record")
                if outcome.verdict == Verdict.RETRY:
                    again.append(contact)
                    if outcome.retry_after is not None:
                        hint = max(hint or 0.0, outcome.retry_after)
                    final[contact.customer_id] = outcome
                else:
                    final[contact.customer_id] = outcome
            if not again:
                return
            todo = again
            wait = hint if hint is not None else self._backoff(attempt)
            if attempt == self.policy.max_attempts or not self._wait(wait):
                _give_back(todo, final, "records still retryable", wait)
                return
            self.stats.retried += 1


def _give_back(contacts: list[Contact], final: Outcomes, reason: str, after: float | None) -> None:
    for contact in contacts:
        previous = final.get(contact.customer_id)
        final[contact.customer_id] = Outcome(
            Verdict.RETRY, previous.reason if previous and previous.reason else reason, retry_after=after
        )

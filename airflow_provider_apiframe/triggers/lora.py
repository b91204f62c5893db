"""The trigger that waits for a LoRA's training on the triggerer: minutes to an hour, no worker slot held."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_apiframe.exceptions import ApiframePermanentError, ApiframeTransientError
from airflow_provider_apiframe.waiting.events import LoraEnded
from airflow_provider_apiframe.wire.loras import Lora, LoraStatus

# A training reports no progress: the first read comes soon (a refused set of images fails at once),
# later ones every poll_interval, spread a little so that trainings started together read apart.
FIRST_READ = 5.0
SPREAD = 0.1


class ApiframeLoraTrigger(BaseTrigger):
    """
    Read the LoRA's status until its training ends or ``deadline`` passes, then yield one event.

    It holds only plain values, so a restarted triggerer rebuilds it and goes on waiting for the same
    LoRA: nothing is ever trained again from here.

    :param lora_id: The LoRA whose training is waited for.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param poll_interval: Seconds between two reads of its status.
    :param deadline: Epoch seconds after which the wait ends with a ``timeout`` event.
    """

    def __init__(self, lora_id: str, apiframe_conn_id: str, poll_interval: float, deadline: float) -> None:
        super().__init__()
        self.lora_id = lora_id
        self.apiframe_conn_id = apiframe_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and plain-JSON kwargs a triggerer rebuilds the trigger from."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "lora_id": self.lora_id,
                "apiframe_conn_id": self.apiframe_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Read the LoRA at the trigger's pace; yield its end, or why the wait gave up."""
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        delay = min(FIRST_READ, self.poll_interval)
        try:
            async with ApiframeHook(self.apiframe_conn_id).async_client() as client:
                while True:
                    await asyncio.sleep(max(0.0, min(delay, self.deadline - time.time())))
                    try:
                        lora = await client.get_lora(self.lora_id)
                    except ApiframeTransientError as error:
                        self.log.warning("LoRA %s: %s; reading it again later", self.lora_id, error)
                        lora = None
                    if lora is not None and not lora.status.is_training:
                        yield TriggerEvent(lora_ended(lora))
                        return
                    if time.time() >= self.deadline:
                        yield TriggerEvent(
                            lora_error(
                                self.lora_id,
                                "timeout",
                                f"LoRA {self.lora_id} was still training at the deadline",
                            )
                        )
                        return
                    delay = self.poll_interval * random.uniform(1 - SPREAD, 1 + SPREAD)
        except ApiframePermanentError as error:
            yield TriggerEvent(lora_error(self.lora_id, "error", str(error)))


def lora_ended(lora: Lora) -> LoraEnded:
    """Make the event of a training that ended: the LoRA if READY, its error otherwise."""
    if lora.status is LoraStatus.READY:
        return {"status": "success", "lora": lora.as_result(), "lora_id": lora.id, "message": ""}
    reason = lora.error or "no reason given"
    return lora_error(
        lora.id, lora.status.value.lower(), f"LoRA {lora.id} ended {lora.status.value}: {reason}"
    )


def lora_error(lora_id: str, reason: str, message: str) -> LoraEnded:
    """Make the event of a wait that ended without a READY LoRA."""
    return {"status": "error", "lora": None, "lora_id": lora_id, "message": message, "reason": reason}

"""Work around FastStream 0.7.8 dropping a pulled batch on a bare `asyncio.TimeoutError`.

`BatchPullStreamSubscriber._consume_pull` keeps fetching until its batch is full or its deadline
passes and stops on `except TimeoutError`, where `TimeoutError` is `nats.errors.TimeoutError`. Near
the deadline nats-py 2.16's `fetch` raises the builtin `asyncio.TimeoutError` instead; it escapes,
the task is restarted, and the messages already collected are neither handled nor acked until the
consumer's ack wait runs out. The except clause looks the name up in the module's globals, so
pointing it at the builtin (the parent of nats' class) restores the intended behaviour. Belongs in
the runtime (echo_runtime.consumer.EventConsumer.register); see the README.
"""

from __future__ import annotations

import builtins

from faststream.nats.subscriber.usecases import stream_pull_subscriber


def catch_every_fetch_timeout() -> None:
    """Make FastStream's pull loop treat any timeout of `fetch` as the end of a batch."""
    setattr(stream_pull_subscriber, "TimeoutError", builtins.TimeoutError)  # noqa: B010

"""Run several producers of batches at once and yield their output as one stream."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
_DONE = object()


def merge_streams(producers: Sequence[Callable[[], Iterable[T]]]) -> Iterator[T]:
    """Yield every item of every producer, each producer running in its own thread.

    Order across producers is arbitrary. A producer's error is re-raised here; when the
    consumer stops early the producers stop at their next item.
    """
    if len(producers) == 1:
        yield from producers[0]()
        return
    out: queue.Queue[Any] = queue.Queue(maxsize=4 * len(producers))
    stop = threading.Event()

    def run(producer: Callable[[], Iterable[T]]) -> None:
        try:
            for item in producer():
                if stop.is_set():
                    return
                out.put(item)
        except BaseException as exc:  # handed to the consumer, re-raised there
            out.put(exc)
        finally:
            out.put(_DONE)

    threads = [threading.Thread(target=run, args=(p,), daemon=True) for p in producers]
    for thread in threads:
        thread.start()
    try:
        finished = 0
        while finished < len(threads):
            item = out.get()
            if item is _DONE:
                finished += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        while any(t.is_alive() for t in threads):  # unblock producers waiting on a full queue
            with contextlib.suppress(queue.Empty):
                out.get_nowait()
            for t in threads:
                t.join(timeout=0.05)

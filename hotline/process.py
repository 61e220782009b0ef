"""The service as a process: ``serve`` runs it until SIGINT or SIGTERM (SIGHUP reloads the
config) and makes what start-up built invisible to the garbage collector."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from hotline.app import Hotline
from hotline.config import Config
from hotline.web_config import descriptor_headroom

log = logging.getLogger(__name__)


async def serve(
    config: Config,
    *,
    config_dir: Path | None = None,
    overrides: Mapping[str, object] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the service until SIGINT/SIGTERM (or ``stop`` is set); SIGHUP reloads."""
    stop = stop or asyncio.Event()
    descriptor_headroom(config)
    service = Hotline(config, config_dir=config_dir, overrides=overrides)
    await service.start()
    # What start-up made (imported modules, config, models: ~200k objects) lives as long as
    # the service: out of the collector's sight, a full collection no longer walks it (it
    # took 0.1-0.9 s, a stall of every call's commands, each time the heap had grown by 25%).
    gc.collect()
    gc.freeze()
    try:
        with stop_on_signals(stop, reload=service.request_reload):
            await stop.wait()
        log.info("stopping")
    finally:
        await service.close()
        log.info("stopped")


@contextlib.contextmanager
def stop_on_signals(
    stop: asyncio.Event, *, reload: Callable[[], object] | None = None
) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop``; SIGHUP calls ``reload``. Handlers removed on exit.

    Outside the main thread (or on platforms without signals) this silently does nothing.
    """
    loop = asyncio.get_running_loop()
    handlers: dict[signal.Signals, Callable[[], object]] = {
        signal.SIGINT: stop.set,
        signal.SIGTERM: stop.set,
    }
    if reload is not None:
        handlers[signal.SIGHUP] = reload
    installed = []
    for signum, handler in handlers.items():
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, handler)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)

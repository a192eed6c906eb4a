"""Which clock each runtime's routes decide "now" with (tests give a manual one)."""

from __future__ import annotations

import weakref
from datetime import datetime

from echo_runtime.clock import Clock, SystemClock
from echo_runtime.service import ServiceRuntime

_clocks: weakref.WeakKeyDictionary[ServiceRuntime, Clock] = weakref.WeakKeyDictionary()


def use_clock(runtime: ServiceRuntime, clock: Clock) -> None:
    """Make the routes of `runtime` decide "now" with `clock` (see bootstrap.build)."""
    _clocks[runtime] = clock


def now_of(runtime: ServiceRuntime) -> datetime:
    """Now, by the runtime's clock (the wall clock unless told otherwise)."""
    return _clocks.get(runtime, SystemClock()).now()

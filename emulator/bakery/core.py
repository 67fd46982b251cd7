"""Shared machinery: the model lock, the clock and scheduler, per-account settings, events."""

from __future__ import annotations

import heapq
import itertools
import json
import queue
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Generic, TypeVar
from weakref import WeakKeyDictionary

# moto's models are not thread-safe and the server is threaded: every request and every
# timed transition runs under this lock, so each sees (and leaves) one consistent state.
LOCK = threading.RLock()

DEFAULT_ACCOUNT = "123456789012"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime | None = None) -> str:
    return (moment or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- per-account settings ---------------------------------------------------------------

# Delay names and what they time (seconds; 0 = instant, as moto is without the extension).
DELAY_NAMES = {
    "ec2.instance.pending": "RunInstances: pending -> running",
    "ec2.instance.stopping": "StopInstances: stopping -> stopped",
    "ec2.instance.shutting-down": "TerminateInstances: shutting-down -> terminated",
    "ec2.image.pending": "CreateImage / CopyImage: pending -> available (or failed)",
    "ssm.command.pending": "SendCommand: Pending -> InProgress",
    "ssm.command.in-progress": "SendCommand: InProgress -> final status (a rule may set its own)",
    "ssm.agent.online": "instance running -> SSM agent Online in DescribeInstanceInformation",
    "ssm.invocation.visible": "SendCommand -> GetCommandInvocation finds the invocation (InvocationDoesNotExist before)",
}


@dataclass
class AccountSettings:
    delays: dict[str, float] = field(default_factory=dict)
    # Multiplies durations AWS takes from the request (HeartbeatTimeout, InstanceWarmup,
    # CheckpointDelay), so a test can run a 300 s warm-up in 3 s with 0.01.
    time_scale: float = 1.0
    events_url: str | None = None
    ssm_rules: list[dict[str, Any]] = field(default_factory=list)
    image_rules: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def delay(self, name: str) -> float:
        return float(self.delays.get(name, 0.0))

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    def public(self) -> dict[str, Any]:
        return {
            "delays": self.delays,
            "timeScale": self.time_scale,
            "eventsUrl": self.events_url,
            "ssmRules": self.ssm_rules,
            "imageRules": self.image_rules,
        }


_settings: dict[str, AccountSettings] = {}


def settings(account_id: str) -> AccountSettings:
    with LOCK:
        if account_id not in _settings:
            _settings[account_id] = AccountSettings()
        return _settings[account_id]


def reset_settings() -> None:
    with LOCK:
        _settings.clear()
        SCHEDULER.clear()


# --- side tables --------------------------------------------------------------------------

K = TypeVar("K")
V = TypeVar("V")
_TABLES: list[SideTable[Any, Any]] = []


class SideTable(Generic[K, V]):
    """What the extension knows about moto objects of one kind, kept beside them, never as
    attributes on them: keyed weakly by the object itself, so a row goes with the object moto
    forgets, and ``reset_tables`` empties every table at once."""

    def __init__(self, row: Callable[[], V]):
        self._rows: WeakKeyDictionary[K, V] = WeakKeyDictionary()
        self._row = row
        _TABLES.append(self)

    def of(self, key: K) -> V:
        """The object's row, made (empty) on first use."""
        found = self._rows.get(key)
        if found is None:
            found = self._rows[key] = self._row()
        return found

    def get(self, key: K) -> V | None:
        return self._rows.get(key)

    def put(self, key: K, value: V) -> None:
        self._rows[key] = value

    def clear(self) -> None:
        self._rows.clear()


def reset_tables() -> None:
    for table in _TABLES:
        table.clear()


# --- scheduler ----------------------------------------------------------------------------


class Scheduler:
    """Timed transitions: callbacks due at a monotonic time, run under LOCK by the ticker."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def after(self, seconds: float, callback: Callable[[], None]) -> None:
        with LOCK:
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, seconds), next(self._seq), callback))

    def run_due(self) -> None:
        with LOCK:
            # Re-read the clock each time: a transition may schedule an immediate follow-up.
            while self._heap and self._heap[0][0] <= time.monotonic():
                _, _, callback = heapq.heappop(self._heap)
                try:
                    callback()
                except Exception as error:  # one broken transition must not stop the others
                    print(f"[bakery] transition failed: {error!r}", flush=True)

    def clear(self) -> None:
        with LOCK:
            self._heap.clear()


SCHEDULER = Scheduler()

# Periodic work (heartbeat timeouts, refresh steps): called on every tick under LOCK.
PERIODIC: list[Callable[[], None]] = []

TICK_SECONDS = 0.02


def tick() -> None:
    SCHEDULER.run_due()
    with LOCK:
        for step in PERIODIC:
            try:
                step()
            except Exception as error:
                print(f"[bakery] periodic step failed: {error!r}", flush=True)


def start_ticker() -> None:
    def run() -> None:
        while True:
            time.sleep(TICK_SECONDS)
            tick()

    threading.Thread(target=run, name="bakery-ticker", daemon=True).start()


# --- events -------------------------------------------------------------------------------

_outbox: "queue.Queue[tuple[str, dict[str, Any]]]" = queue.Queue()


def emit(account_id: str, region: str, source: str, detail_type: str, resources: list[str], detail: dict[str, Any]) -> None:
    """Records an EventBridge-shaped event and, if the account has an events URL, posts it there.

    Envelope per https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
    """
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account_id,
        "time": iso(),
        "region": region,
        "resources": resources,
        "detail": detail,
    }
    account = settings(account_id)
    with LOCK:
        account.events.append(event)
        del account.events[:-1000]
        url = account.events_url
    if url:
        _outbox.put((url, event))


def _deliver() -> None:
    # Delivery happens off the model lock and off the request threads; a receiver that is
    # down loses the event, as EventBridge's best-effort targets can (the sweep covers it).
    while True:
        url, event = _outbox.get()
        body = json.dumps(event).encode()
        request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"}, method="POST")
        try:
            urllib.request.urlopen(request, timeout=5).read()
        except Exception as error:
            print(f"[bakery] event delivery to {url} failed: {error!r}", flush=True)


threading.Thread(target=_deliver, name="bakery-events", daemon=True).start()

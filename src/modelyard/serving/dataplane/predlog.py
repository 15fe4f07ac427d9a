"""The prediction log: request id, inputs, outputs, version and latency, to hourly Parquet.

Requests only append a record to a bounded queue (a full queue drops the record and counts
it, never blocking a request); a writer thread encodes and writes the records every
``flush_interval`` seconds to ``<dir>/model=<name>/date=YYYY-MM-DD/hour=HH/*.parquet``
(written under a temporary name, then renamed) by the small writer in ``parquet``, so that
PyArrow never loads in a server. ``close()`` flushes what is left.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import orjson

from modelyard.serving.dataplane.metrics import ServingMetrics
from modelyard.serving.dataplane.parquet import Column, write_table
from modelyard.serving.options import PredictionLogOptions

_YIELD_EVERY = 64
_YIELD_SECONDS = 0.0001


@dataclass(frozen=True)
class PredictionRecord:
    """One answered request."""

    request_id: str
    version: str
    role: str
    timestamp: float
    latency_ms: float
    inputs: np.ndarray
    outputs: np.ndarray


class PredictionSink(Protocol):
    """Where the data plane hands each answered request: the log, the feedback join."""

    def record(self, rec: PredictionRecord) -> None: ...

    def close(self) -> None: ...


class BufferedSink:
    """The request path of every prediction sink: sample, queue without blocking, and count a
    drop when the bounded buffer is full. A sink's thread drains ``_queue``."""

    model: str
    options: PredictionLogOptions
    dropped: int
    _metrics: ServingMetrics
    _queue: deque[PredictionRecord]
    _random: random.Random

    def record(self, rec: PredictionRecord) -> None:
        """Queue a record without blocking; counts a drop when the buffer is full."""
        if self.options.sample_rate < 1.0 and self._random.random() >= self.options.sample_rate:
            return
        if len(self._queue) >= self.options.buffer:
            self.dropped += 1
            self._metrics.log_dropped.labels(self.model).inc()
            return
        self._queue.append(rec)


class PredictionLog(BufferedSink):
    """Buffer plus writer thread for one model's prediction log."""

    def __init__(self, model: str, options: PredictionLogOptions, metrics: ServingMetrics) -> None:
        if options.directory is None:
            raise ValueError("PredictionLog needs options.directory")
        self.model = model
        self.options = options
        self.root = options.directory / f"model={model}"
        self._metrics = metrics
        # A deque, not a queue.Queue: append and popleft are atomic and take no lock, which
        # matters at thousands of records a second on the server's one core.
        self._queue: deque[PredictionRecord] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"predlog-{model}", daemon=True)
        self._seq = itertools.count()
        self._random = random.Random()
        self.dropped = 0

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop the writer and flush every queued record."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._flush()

    def _run(self) -> None:
        while not self._stop.wait(self.options.flush_interval):
            self._flush()

    def _flush(self) -> None:
        pending = self._queue
        records = [pending.popleft() for _ in range(len(pending))]
        if not records:
            return
        partitions: dict[int, list[PredictionRecord]] = {}
        for rec in records:  # UTC hours are whole multiples of 3600 s since the epoch
            partitions.setdefault(int(rec.timestamp // 3600), []).append(rec)
        for hour, recs in partitions.items():
            stamp = datetime.fromtimestamp(hour * 3600, tz=UTC)
            self._write(self.root / f"date={stamp:%Y-%m-%d}" / f"hour={stamp:%H}", recs)
        self._metrics.log_written.labels(self.model).inc(len(records))

    def _write(self, directory: Path, recs: list[PredictionRecord]) -> None:
        # Written by modelyard's own small Parquet writer, not PyArrow: PyArrow would add
        # about 37 MiB to every replica for this one use (see ``parquet``).
        opt = orjson.OPT_SERIALIZE_NUMPY

        def encode(arr: np.ndarray) -> str:
            value = arr.tolist() if arr.dtype.kind in "OUS" else np.ascontiguousarray(arr)
            return orjson.dumps(value, option=opt).decode()

        inputs, outputs = [], []
        for i, rec in enumerate(recs):
            if i % _YIELD_EVERY == _YIELD_EVERY - 1:
                # Encoding holds the GIL; on a one-core server the event loop would wait up
                # to the 5 ms switch interval for it. A short sleep hands it over regularly.
                time.sleep(_YIELD_SECONDS)
            inputs.append(encode(rec.inputs))
            outputs.append(encode(rec.outputs))

        columns = [
            Column("request_id", "string", [r.request_id for r in recs]),
            Column("model", "string", [self.model] * len(recs)),
            Column("version", "string", [r.version for r in recs]),
            Column("role", "string", [r.role for r in recs]),
            Column("timestamp", "timestamp_us", [int(r.timestamp * 1e6) for r in recs]),
            Column("latency_ms", "double", [r.latency_ms for r in recs]),
            Column("inputs", "string", inputs),
            Column("outputs", "string", outputs),
        ]
        directory.mkdir(parents=True, exist_ok=True)
        name = f"part-{int(time.time() * 1000)}-{os.getpid()}-{next(self._seq)}.parquet"
        tmp = directory / f".{name}.tmp"
        write_table(tmp, columns)
        tmp.rename(directory / name)

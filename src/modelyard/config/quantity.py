"""Kubernetes-style quantities and durations, checked where the user writes them.

CPU is written as Kubernetes writes it (``500m``, ``2``, ``0.5``), memory likewise (``512Mi``,
``1Gi``, ``1G``), and durations as ``500ms``, ``30s``, ``2m``, ``1h``. Values are kept as the
canonical string so that rendered manifests say what the user wrote.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from modelyard.config.bounds import MAX_CPU_MILLIS, MAX_DURATION_S, MAX_MEMORY_BYTES, finite

_CPU = re.compile(r"^(?P<num>\d+(\.\d+)?)(?P<unit>m?)$")
_MEM = re.compile(r"^(?P<num>\d+(\.\d+)?)(?P<unit>Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P)?$")
_DURATION = re.compile(r"^(?P<num>\d+(\.\d+)?)(?P<unit>ms|s|m|h|d)$")
_MEM_FACTOR = {
    None: 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
}
_DURATION_FACTOR = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def cpu_millis(value: str) -> int:
    """Millicores of a CPU quantity: ``cpu_millis("500m") == 500``, ``cpu_millis("2") == 2000``."""
    match = _CPU.match(value.strip())
    if not match:
        raise ValueError(
            f"{value!r} is not a CPU quantity; write millicores like '500m' or cores like '2'"
        )
    num = Decimal(match["num"])
    millis = num if match["unit"] == "m" else num * 1000
    return int(millis.to_integral_value())


def memory_bytes(value: str) -> int:
    """Bytes of a memory quantity: ``memory_bytes("1Ki") == 1024``."""
    match = _MEM.match(value.strip())
    if not match:
        raise ValueError(
            f"{value!r} is not a memory quantity; write it like '512Mi', '2Gi' or '1G'"
        )
    try:
        num = Decimal(match["num"])
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"{value!r} is not a number") from exc
    return int(num * _MEM_FACTOR[match["unit"]])


def duration_seconds(value: str | float) -> float:
    """Seconds of a duration (``'500ms'``, ``'30s'``, ``'2m'``); a bare number is seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = finite(float(value), "a duration")
        if seconds < 0:
            raise ValueError(f"duration {value} is negative")
    else:
        match = _DURATION.match(str(value).strip())
        if not match:
            raise ValueError(
                f"{value!r} is not a duration; write it like '500ms', '30s', '2m' or '1h'"
            )
        seconds = float(match["num"]) * _DURATION_FACTOR[match["unit"]]
    if seconds > MAX_DURATION_S:
        raise ValueError(f"duration {value!r} is longer than a year ({MAX_DURATION_S:g}s)")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of ``seconds``: 120 -> '2m', 0.5 -> '500ms'."""
    for unit in ("h", "m", "s"):
        factor = _DURATION_FACTOR[unit]
        if seconds >= factor and float(seconds / factor).is_integer():
            return f"{int(seconds / factor)}{unit}"
    return f"{round(seconds * 1000)}ms"


def _cpu(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a CPU quantity such as '500m' or 2, got {value!r}")
    if isinstance(value, float):
        finite(value, "a CPU quantity")
    text = str(value).strip()
    millis = cpu_millis(text)
    if millis <= 0:
        raise ValueError(f"CPU quantity {text!r} must be above zero")
    if millis > MAX_CPU_MILLIS:
        raise ValueError(f"CPU quantity {text!r} is above {MAX_CPU_MILLIS // 1000} cores")
    return text


def _memory(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"expected a memory quantity such as '512Mi', got {value!r}")
    text = str(value).strip()
    size = memory_bytes(text)
    if size <= 0:
        raise ValueError(f"memory quantity {text!r} must be above zero")
    if size > MAX_MEMORY_BYTES:
        raise ValueError(f"memory quantity {text!r} is above 1Pi")
    return text


def _duration(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration such as '30s', got {value!r}")
    return duration_seconds(value)


Cpu = Annotated[
    str,
    BeforeValidator(_cpu),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": _CPU.pattern}, {"type": "number"}]}),
]
"""A CPU quantity, kept as written (``'500m'``, ``'2'``)."""

Memory = Annotated[
    str,
    BeforeValidator(_memory),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": _MEM.pattern}, {"type": "integer"}]}),
]
"""A memory quantity, kept as written (``'512Mi'``)."""

Duration = Annotated[
    float,
    BeforeValidator(_duration),
    PlainSerializer(format_duration),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": _DURATION.pattern}, {"type": "number"}]}
    ),
]
"""A duration in seconds, written as ``'30s'``, ``'2m'`` or a number of seconds."""

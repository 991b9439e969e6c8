"""What checkpoint TTL costs per step: a put, then a get_tuple of the
thread's latest, on a SQLite file, TTL off against each TTL setting.

Rounds alternate the variants; the median of five is printed, with its ratio
to TTL off. Run: ``python bench/ttl_overhead.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time

from langgraph.checkpoint.base import empty_checkpoint

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver


def one(ttl: dict[str, object] | None, n: int = 400) -> float:
    d = tempfile.mkdtemp()
    s = SQLAlchemySaver.from_url(f"sqlite:///{d}/b.db", ttl=ttl)
    s.setup()
    cfg = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    for _ in range(20):  # warm
        cp = empty_checkpoint()
        cfg = s.put(cfg, cp, {}, {})
        s.get_tuple(cfg)
    t = time.perf_counter()
    for i in range(n):
        cp = empty_checkpoint()
        cp["channel_values"] = {"x": i}
        cp["channel_versions"] = {"x": str(i + 1)}
        cfg = s.put(cfg, cp, {"step": i}, {"x": str(i + 1)})
        s.get_tuple({"configurable": {"thread_id": "t"}})
    dt = (time.perf_counter() - t) / n
    s.close()
    return dt


variants: dict[str, dict[str, object] | None] = {
    "off": None,
    "delete+refresh": {"default_ttl": 60},
    "delete,no refresh": {"default_ttl": 60, "refresh_on_read": False},
    "keep_latest,no refresh": {
        "default_ttl": 60,
        "strategy": "keep_latest",
        "refresh_on_read": False,
    },
}


def main() -> None:
    res: dict[str, list[float]] = {k: [] for k in variants}
    for _round in range(5):
        for k, v in variants.items():
            res[k].append(one(v))
    base = statistics.median(res["off"])
    for k in variants:
        m = statistics.median(res[k])
        print(f"{k:25s} {m * 1e6:8.0f} us/step  x{m / base:.2f}")


if __name__ == "__main__":
    main()

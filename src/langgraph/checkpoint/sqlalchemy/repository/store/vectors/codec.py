"""Embeddings as column values: little-endian float32 BLOBs (sqlite-vec's
own format, which the official ``SqliteStore`` writes too) and pgvector's
text form."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache


def check_vector(vector: Sequence[float], dims: int, what: str) -> list[float]:
    """``vector`` as floats, or a ValueError when its length is not ``dims``
    (an embedding model that does not match the index)."""
    try:
        values = [float(v) for v in vector]
    except (TypeError, ValueError):
        raise TypeError(
            f"{what} must be a list of numbers, not {type(vector).__name__}: "
            "check what the index's embed returns"
        ) from None
    if len(values) != dims:
        raise ValueError(
            f"{what} has {len(values)} dimensions but the index has dims={dims}: "
            "the embedding model and index['dims'] must agree"
        )
    return values


@lru_cache(maxsize=16)
def _format(dims: int) -> struct.Struct:
    return struct.Struct(f"<{dims}f")


def to_blob(vector: Sequence[float]) -> bytes:
    """float32, little-endian, no header: what sqlite-vec reads as a vector."""
    return _format(len(vector)).pack(*vector)


def from_blob(blob: bytes) -> tuple[float, ...]:
    return _format(len(blob) // 4).unpack(blob)


def to_pgvector_text(vector: Sequence[float]) -> str:
    """pgvector's input form, ``[1.0,2.5,...]``, cast by the statement."""
    return "[" + ",".join(repr(float(v)) for v in vector) + "]"


def from_pgvector_text(text: str) -> list[float]:
    """pgvector's output form (``vector`` and ``halfvec`` alike) as floats."""
    inner = text.strip().removeprefix("[").removesuffix("]")
    return [float(v) for v in inner.split(",")] if inner else []

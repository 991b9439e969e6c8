"""Walking a checkpoint's parent chain, channel by channel. No I/O.

A ``DeltaChannel`` stores a full value only now and then (a snapshot); in
between, its value is rebuilt from the writes of each ancestor back to the
nearest one that holds a value. Two operations need that walk:
``get_delta_channel_history`` (to rebuild) and ``prune`` (to know what it must
keep). Both feed :class:`ChainWalk` pages of ancestors, newest first, as they
read them from the database, so the walk costs a few queries per page of
ancestors rather than one ``get_tuple`` per ancestor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Ancestor", "ChainWalk"]


@dataclass(frozen=True, slots=True)
class Ancestor:
    """What the walk needs of one checkpoint."""

    checkpoint_id: str
    parent_checkpoint_id: str | None
    versions: dict[str, str]
    inline: dict[str, Any]


@dataclass
class ChainWalk:
    """The per-channel walk from a target checkpoint's parent to each seed.

    For each channel, ``chains[ch]`` lists the ancestors visited, newest first,
    ending at the seed ancestor (the nearest one holding a value for the
    channel) when one was found. ``seed_versions[ch]`` is that ancestor's
    version of the channel when the value is a blob; ``seed_inline[ch]`` holds
    it when it is inline in the checkpoint document.
    """

    target_id: str
    channels: Sequence[str]
    nodes: dict[str, Ancestor] = field(default_factory=dict)
    chains: dict[str, list[str]] = field(default_factory=dict)
    seed_versions: dict[str, str] = field(default_factory=dict)
    seed_inline: dict[str, Any] = field(default_factory=dict)
    _cursor: dict[str, str | None] = field(default_factory=dict)
    _done: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.chains = {ch: [] for ch in self.channels}

    @property
    def finished(self) -> bool:
        return len(self._done) == len(self.channels)

    def blob_keys_to_probe(self, page: Iterable[Ancestor]) -> set[tuple[str, str]]:
        """(channel, version) pairs of ``page`` whose blob presence matters."""
        pending = [ch for ch in self.channels if ch not in self._done]
        return {
            (ch, a.versions[ch])
            for a in page
            for ch in pending
            # An inline `true` may be a snapshot's marker, with the blob behind it.
            if ch in a.versions and a.inline.get(ch, True) is True
        }

    def advance(self, page: Iterable[Ancestor], blobs: set[tuple[str, str]]) -> None:
        """Take in a page of ancestors; ``blobs`` are the present non-empty blobs."""
        for ancestor in page:
            self.nodes[ancestor.checkpoint_id] = ancestor
        for ch in self.channels:
            if ch in self._done:
                continue
            if ch not in self._cursor:
                target = self.nodes.get(self.target_id)
                if target is None:
                    continue
                self._cursor[ch] = target.parent_checkpoint_id
            cursor = self._cursor[ch]
            while cursor is not None and cursor in self.nodes:
                node = self.nodes[cursor]
                self.chains[ch].append(cursor)
                version = node.versions.get(ch)
                if version is not None and (ch, version) in blobs:
                    # A blob wins over an inline `true`: that is a snapshot marker.
                    self.seed_versions[ch] = version
                    self._done.add(ch)
                    cursor = None
                    break
                if ch in node.inline:
                    self.seed_inline[ch] = node.inline[ch]
                    self._done.add(ch)
                    cursor = None
                    break
                cursor = node.parent_checkpoint_id
            self._cursor[ch] = cursor
            if cursor is None:
                self._done.add(ch)

    def all_chain_ids(self) -> set[str]:
        return {cid for chain in self.chains.values() for cid in chain}

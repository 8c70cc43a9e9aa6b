"""Prompt embeddings kept while the process runs, so a retake or extension with the same prompt skips Gemma.

Encoding a prompt for the LTX-2 family loads Gemma (12B for LTX-2/2.3: gigabytes read and seconds of
work) and runs it; the result is a few megabytes. The cache maps (model weights, prompts, dtype) to
the evaluated embeddings, holds at most `max_entries` and `max_bytes`, dropping the least recently
used first, and is emptied when the memory plan has to stream weights (memory is then what is short).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable

from ltx_mlx_core.pipeline.ltx2.denoise import PromptEmbeddings
from ltx_mlx_core.pipeline.release import nbytes

log = logging.getLogger(__name__)

DEFAULT_MAX_ENTRIES = 16
DEFAULT_MAX_BYTES = 512 * 2**20


def embeddings_bytes(embeddings: PromptEmbeddings) -> int:
    return nbytes((embeddings.video, embeddings.audio, embeddings.video_mask, embeddings.audio_mask))


class PromptCache:
    """A bounded, thread-safe LRU of prompt embeddings (the app encodes on a worker thread)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, PromptEmbeddings] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(embeddings_bytes(e) for e in self._entries.values())

    def get(self, key: Hashable) -> PromptEmbeddings | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: Hashable, embeddings: PromptEmbeddings) -> None:
        """Keep `embeddings` (evaluated) under `key`; one larger than the whole budget is not kept."""
        size = embeddings_bytes(embeddings)
        with self._lock:
            self._entries.pop(key, None)
            if size > self.max_bytes:
                log.info("prompt embeddings of %d bytes exceed the cache's %d; not kept", size, self.max_bytes)
                return
            self._entries[key] = embeddings
            total = sum(embeddings_bytes(e) for e in self._entries.values())
            while len(self._entries) > self.max_entries or total > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                total -= embeddings_bytes(dropped)

    def clear(self) -> None:
        with self._lock:
            if self._entries:
                log.info("prompt cache emptied (%d entries)", len(self._entries))
            self._entries.clear()


# The process's cache: the app and the CLI share one per process.
PROMPT_CACHE = PromptCache()

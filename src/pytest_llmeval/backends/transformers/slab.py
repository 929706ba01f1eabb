"""A transformers cache layer whose keys and values live in a buffer with room to grow.

transformers' ``DynamicLayer`` concatenates each step's keys onto the whole cache, copying all
of it at every step (about a seventh of a decoding step for a 135M model on a CPU at 300
tokens). :class:`SlabLayer` writes the new column in place and hands attention a view. It is
imported only by the decoder (:mod:`.decoding`), once torch is needed anyway.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import DynamicLayer


class SlabLayer(DynamicLayer):  # type: ignore[misc]
    """One layer's keys and values, ``(rows, heads, columns, head size)``, in a buffer of
    ``capacity`` columns that grows by half again when full."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self._capacity = capacity
        self._keys: Any = None
        self._values: Any = None
        self._length = 0

    @classmethod
    def joined(cls, parts: list[tuple[Any, Any]], width: int, capacity: int) -> SlabLayer:
        """The rows of ``parts`` stacked, each right-aligned at column ``width``, room up to ``capacity``."""
        first_keys, first_values = parts[0]
        rows = sum(k.shape[0] for k, _ in parts)
        keys = first_keys.new_zeros((rows, first_keys.shape[1], capacity, first_keys.shape[3]))
        values = first_values.new_zeros((rows, first_values.shape[1], capacity, first_values.shape[3]))
        top = 0
        for k, v in parts:
            n, length = k.shape[0], k.shape[2]
            keys[top : top + n, :, width - length : width] = k
            values[top : top + n, :, width - length : width] = v
            top += n
        layer = cls(capacity)
        layer._hold(keys, values, width)
        return layer

    def _hold(self, keys: Any, values: Any, length: int) -> None:
        self._keys, self._values, self._length = keys, values, length
        self.is_initialized = True
        self.device = keys.device
        self.keys = keys[:, :, :length]
        self.values = values[:, :, :length]

    def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        new = key_states.shape[-2]
        if self._keys is None:  # the first update allocates the whole buffer
            room = max(self._capacity, new)
            self._hold(key_states.new_zeros((*key_states.shape[:2], room, key_states.shape[3])),
                       value_states.new_zeros((*value_states.shape[:2], room, value_states.shape[3])), 0)
        elif self._length + new > self._keys.shape[2]:  # out of room: grow by half again
            extra = max(new, self._keys.shape[2] // 2)
            self._keys = torch.nn.functional.pad(self._keys, (0, 0, 0, extra))
            self._values = torch.nn.functional.pad(self._values, (0, 0, 0, extra))
        end = self._length + new
        self._keys[:, :, self._length : end] = key_states
        self._values[:, :, self._length : end] = value_states
        self._hold(self._keys, self._values, end)
        return self.keys, self.values

    def select(self, rows: Any, start: int) -> None:
        """Keep only ``rows``, and drop the first ``start`` columns."""
        self._hold(self._keys[rows, :, start:], self._values[rows, :, start:], self._length - start)

    def batch_select_indices(self, indices: Any) -> None:
        self.select(indices, 0)

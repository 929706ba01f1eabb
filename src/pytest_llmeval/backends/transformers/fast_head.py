"""A CPU vocabulary projection that is quicker than the model's own and, for an argmax, exact.

See :func:`~.decoding.argmax_head`, which swaps it in while greedy rows decode. Imported only
then, once torch is needed anyway.
"""

from __future__ import annotations

from typing import Any

import torch

#: A fast projection's top two logits must differ by more than this, relative to the top one
#: (plus the same absolute), for its argmax to be taken; rounding moves them by about 1e-5.
ARGMAX_MARGIN = 1e-3


class FastArgmaxHead(torch.nn.Module):
    """oneDNN's product with the head's weight packed once; the original head on a near tie.

    ``fast_steps`` and ``exact_steps`` count the steps answered each way.
    """

    def __init__(self, head: Any, batch_size: int) -> None:
        super().__init__()
        self.head = head
        self.packed = torch.ops.mkldnn._reorder_linear_weight(head.weight.detach(), batch_size)
        self.fast_steps = 0
        self.exact_steps = 0

    def forward(self, hidden: Any) -> Any:
        if self.head.out_features < 2:
            return self.head(hidden)
        flat = hidden.reshape(-1, hidden.shape[-1])
        logits = torch.ops.mkldnn._linear_pointwise(flat, self.packed, self.head.bias, "none", [], "")
        top = logits.topk(2, dim=-1).values
        if bool(((top[:, 0] - top[:, 1]) > ARGMAX_MARGIN * (1 + top[:, 0].abs())).all()):
            self.fast_steps += 1
            return logits.reshape(*hidden.shape[:-1], -1)
        self.exact_steps += 1
        return self.head(hidden)

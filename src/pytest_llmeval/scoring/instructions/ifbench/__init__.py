"""IFBench's instruction checkers (AllenAI, 2025), one module per family of instruction ids
(the part before ``:``).

They are written from the instruction texts, as a reader would verify them. Importing this
package registers them in :data:`~pytest_llmeval.scoring.instructions.CHECKERS`, in this order.
"""

from . import count, custom, format, ratio, repeat, sentence, words

__all__ = ["count", "custom", "format", "ratio", "repeat", "sentence", "words"]

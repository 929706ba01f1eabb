"""Language identification for IFEval's language instructions, reproducible run after run."""

from __future__ import annotations

import random
import threading

_LANGDETECT_LOCK = threading.Lock()


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code ``langdetect`` gives ``text`` ("en", "fr", ...), or None when it cannot
    tell (IFEval then counts the instruction as followed).

    ``langdetect`` draws from Python's global ``random`` generator: it is seeded here so that
    every run agrees, under a lock, and the generator's state is put back afterwards so that
    nothing else in the process sees a difference.
    """
    import langdetect  # imported here: only IFEval's language instructions need it

    with _LANGDETECT_LOCK:
        state = random.getstate()
        langdetect.DetectorFactory.seed = 0
        try:
            return str(langdetect.detect(text))
        except langdetect.LangDetectException:
            return None
        finally:
            random.setstate(state)

# Intentionally empty: the built-in suite needs no test files (see --llm-suite).

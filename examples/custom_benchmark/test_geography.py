"""A benchmark of your own in a few lines: data, prompt, target, scorer, capability.

Run it with the embedded model (offline):

    pytest examples/custom_benchmark

or against any model: ``pytest examples/custom_benchmark --llm-model=openai:gpt-4o``.
"""

from pytest_llmeval import Benchmark, scorers

# Collected as one test per row, named by the first words of the row's question (here its first
# text field by name) and a hash of the whole row: test_geography.py::capitals[paris-a58b6c6617]
test_capitals = Benchmark(
    "capitals",
    capability="geography",
    data="capitals.jsonl",  # relative to this file; .csv, .parquet, hf:OWNER/NAME or a list also work
    prompt="What is the capital of {country}? Answer with the name of the city only.",
    target="capital",
    scorer=scorers.includes(),
    max_tokens=16,
)

# The same items, checked with plain pytest assertions of your own.
capital_style = Benchmark(
    "capital-style",
    capability="instruction_following",
    data="capitals.jsonl",
    prompt="What is the capital of {country}? Answer with the name of the city only.",
    target="capital",
    scorer=scorers.includes(),
    max_tokens=16,
)


@capital_style.each
def test_answers_briefly(llm_item, llm_response):
    assert len(llm_response.text.split()) <= 3, f"too wordy for {llm_item.row['country']}: {llm_response.text!r}"


def test_model_greets(llm_model):
    """The llm_model fixture asks the model directly (cached like every request)."""
    assert llm_model.generate("Say hello in one word.", max_tokens=8).strip()

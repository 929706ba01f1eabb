"""A tiny local model directory for tests: a 2-layer Llama with random weights and a word-level
tokenizer with a chat template, written the way ``save_pretrained`` writes a real one
(config.json, generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
chat_template.jinja). It loads in a fraction of a second and needs no network; its answers are
nonsense words, which is all a test of identity, sampling or loading needs.
"""

from __future__ import annotations

from pathlib import Path

WORDS = (
    "the", "a", "cat", "dog", "sat", "on", "mat", "what", "is", "two", "plus", "three", "four", "five",
    "six", "seven", "answer", "yes", "no", "red", "blue", "green", "sky", "sea", "one", "eight", "nine", "ten",
    "question", "please", "think", "about", "it", "very", "good", "bad", "hello", "world",
)
SPECIAL = ["<unk>", "<|im_start|>", "<|im_end|>"]
TEMPLATE = ("{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
            "{% if add_generation_prompt %}<|im_start|> assistant {% endif %}")


def make_tiny_model(directory: Path, seed: int = 0) -> Path:
    """Write the tiny model into ``directory`` (created) and return it."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {token: n for n, token in enumerate(SPECIAL + list(WORDS))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", eos_token="<|im_end|>",
                                        pad_token="<|im_end|>", additional_special_tokens=["<|im_start|>"])
    tokenizer.chat_template = TEMPLATE
    eos = vocab["<|im_end|>"]
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=None, eos_token_id=eos, pad_token_id=eos, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory

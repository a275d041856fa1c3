"""Checks that Python transformers loads examples/tiny-lm/base and agrees with peftjs.

    pip install torch transformers safetensors
    python examples/tiny-lm/check/check_with_transformers.py

1. AutoTokenizer reads base/tokenizer.json and encodes the prompts to the ids peftjs wrote.
2. AutoModelForCausalLM reads base/ (config.json + model.safetensors) and its logits equal the
   ones peftjs computed (check/reference.safetensors) within 1e-4.

peftjs's CI has no Python, so this script is not run there; the same reference is checked on the
JavaScript side by examples/tiny-lm/src/reference.test.ts.
"""
import json
import pathlib

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

here = pathlib.Path(__file__).resolve().parent
base = here.parent / "base"
meta = json.loads((here / "reference.json").read_text())
reference = load_file(str(here / "reference.safetensors"))

tokenizer = AutoTokenizer.from_pretrained(base)
for text, ids in zip(meta["prompts"], meta["input_ids"]):
    got = tokenizer(text)["input_ids"]
    assert got == ids, f"tokenizer: {text!r} -> {got}, peftjs wrote {ids}"
    assert tokenizer.decode(got) == text

model = AutoModelForCausalLM.from_pretrained(base).eval()
with torch.no_grad():
    logits = model(
        input_ids=reference["input_ids"].long(),
        attention_mask=reference["attention_mask"].long(),
    ).logits
mask = reference["attention_mask"].bool()
difference = (logits - reference["logits"]).abs()[mask].max().item()
print(f"max |logits(transformers) - logits(peftjs)| over real tokens: {difference:.3e}")
assert difference < 1e-4
print("ok: transformers loads the base and agrees with peftjs")

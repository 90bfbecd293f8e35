#!/usr/bin/python3
"""Writes a random tiny Llama model directory for the end-to-end server test (tests only).

What it is: config.json + model.safetensors from lm_reference.write_random_model_dir, with the
vocabulary of the checked-in tiny tokenizer (tests/data/fixtures/tiny_tokenizer), whose
tokenizer.json is copied in. Usage: make_tiny_model.py OUT_DIR [N_CTX].
What it is not: a trained model; its text is noise, which is all a protocol test needs.
"""

import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import lm_reference as ref  # noqa: E402


def main():
    out = sys.argv[1]
    n_ctx = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    tok = os.path.join(HERE, "..", "data", "fixtures", "tiny_tokenizer", "tokenizer.json")
    with open(tok) as f:
        t = json.load(f)
    V = max(max(t["model"]["vocab"].values()), max(a["id"] for a in t.get("added_tokens", []))) + 1
    ref.write_random_model_dir(out, ref.llama_hf_config(V, n_ctx, 2, 4, 2, 64, 176, True), seed=3)
    shutil.copy(tok, os.path.join(out, "tokenizer.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""PyTorch side of lmforge's golden generation test (tests/infer/infer_golden_test.cpp calls it).

What it is: reads a model directory and an inputs JSON {"prompt": [ids], "steps": n} and greedily
generates n tokens with the independent reference forward (lm_reference.py) in float64,
recomputing the whole prefix every step: no KV cache, so agreement with lmforge's cached decode
proves the cache. Writes JSON {"tokens": [...], "margins": [top1 - top2 logit per step],
"probs": softmax of the first step's logits (V)} to --out.
What it is not: the comparison (the C++ test decides), nor a sampler (greedy only).
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lm_reference as ref  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    with open(args.inputs) as f:
        inputs = json.load(f)
    cfg, params = ref.load_model_dir(args.model, torch.float64)
    ids = list(inputs["prompt"])
    tokens, margins, probs = [], [], None
    with torch.no_grad():
        for step in range(inputs["steps"]):
            logits = ref.forward_logits(cfg, params, torch.tensor([ids], dtype=torch.int64))[0, -1]
            if probs is None:
                probs = torch.softmax(logits, dim=-1).tolist()
            top = torch.topk(logits, 2)
            margins.append((top.values[0] - top.values[1]).item())
            nxt = int(torch.argmax(logits).item())
            tokens.append(nxt)
            ids.append(nxt)
    with open(args.out, "w") as f:
        json.dump({"tokens": tokens, "margins": margins, "probs": probs}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())

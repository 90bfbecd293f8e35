#!/usr/bin/python3
"""PyTorch side of bench/eval_bench.cpp: multiple-choice scoring the way lm-evaluation-harness's HF
model does it (one forward per choice over (context + continuation)[:-1], the choices of a
question batched with right padding, log-softmax of the continuation rows), float32, no_grad, on
lm_reference.py's forward. Prints one JSON line {"questions", "seconds", "lls"}.
Not a test: the C++ bench prints the ratio.
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import lm_reference as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--questions", required=True)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg, params = ref.load_model_dir(a.model, torch.float32)
    for p in params.values():
        p.requires_grad_(False)
    with open(a.questions) as f:
        qs = json.load(f)
    if a.limit:
        qs = qs[: a.limit]
    lls = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for q in qs:
            ctx = q["context"]
            rows = [(ctx + c)[:-1] for c in q["continuations"]]
            T = max(len(r) for r in rows)
            ids = torch.zeros((len(rows), T), dtype=torch.int64)
            for i, r in enumerate(rows):
                ids[i, : len(r)] = torch.tensor(r)
            logp = torch.log_softmax(ref.forward_logits(cfg, params, ids), dim=-1)
            out = []
            for i, c in enumerate(q["continuations"]):
                n0 = len(ctx) - 1
                out.append(sum(logp[i, n0 + j, c[j]].item() for j in range(len(c))))
            lls.append(out)
    dt = time.perf_counter() - t0
    print(json.dumps({"questions": len(qs), "seconds": dt, "lls": lls}))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""PyTorch side of the benchmark-scoring parity test (tests/eval/eval_parity_test.cpp calls it).

What it is: for each multiple-choice row that `lmforge eval --task ... --rows FILE` wrote (the
context ids and each choice's continuation ids, as lmforge split them), it recomputes each
choice's log-likelihood with lm_reference.py's forward in float64 the way lm-evaluation-harness's
HF model does (input = (context + continuation)[-(n_ctx+1):][:-1], one forward per choice, the
log-softmax of the last len(continuation) rows), then acc and acc_norm with the harness's rule
(numpy argmax of the lls and of lls / len(choice) in characters), reading the choices from the
task file. Writes one JSON line per row: {"line", "lls", "acc", "acc_norm"}.
What it is not: a tokenizer (the ids are lmforge's) nor the comparison (the C++ test decides).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lm_reference as ref  # noqa: E402

CONTEXT_KEYS = ["context", "query", "question", "ctx", "prompt", "input", "text"]
CHOICE_KEYS = ["choices", "endings", "options"]


def choices_of(row):
    for k in CHOICE_KEYS:
        if row.get(k) is not None:
            c = row[k]
            return c["text"] if isinstance(c, dict) else c
    raise ValueError("row without choices")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--task", required=True)
    ap.add_argument("--rows", required=True)
    ap.add_argument("--gold-key", default="gold")
    args = ap.parse_args()
    torch.set_num_threads(2)
    cfg, params = ref.load_model_dir(args.model, torch.float64)
    n_ctx = cfg["n_ctx"]
    task = {}
    with open(args.task) as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                task[i] = json.loads(line)
    with open(args.rows) as f:
        rows = [json.loads(l) for l in f if l.strip()]
    with torch.no_grad():
        for r in rows:
            lls = []
            for cont in r["continuation_ids"]:
                ids = (r["context_ids"] + cont)[-(n_ctx + 1):][:-1]
                logits = ref.forward_logits(cfg, params, torch.tensor([ids], dtype=torch.int64))[0]
                logp = torch.log_softmax(logits, dim=-1)
                n = len(cont)
                lls.append(sum(logp[len(ids) - n + j, cont[j]].item() for j in range(n)))
            doc = task[r["line"]]
            choices = choices_of(doc)
            gold = doc[args.gold_key]
            gold = gold if isinstance(gold, list) else [gold]
            lens = np.array([float(len(c)) for c in choices])  # Python len: characters
            with np.errstate(divide="ignore", invalid="ignore"):
                pred, pred_norm = int(np.argmax(lls)), int(np.argmax(np.array(lls) / lens))
            print(json.dumps({"line": r["line"], "lls": lls, "acc": float(pred in gold),
                              "acc_norm": float(pred_norm in gold)}))


if __name__ == "__main__":
    main()

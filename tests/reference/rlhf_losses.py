"""PyTorch reference for lmforge's ranking and DPO losses (tests/loss/ranking_test.cpp runs it).

Prints one JSON object: {"ranking": [...], "dpo": [...]}, each case with its inputs, the loss
and the gradient from autograd (float64). The definitions follow include/lmforge/loss/*.h,
written here independently with torch ops: Bradley-Terry = mean over pairs i<j of
-logsigmoid(s_i - s_j); Plackett-Luce = mean over the K-1 choices of -log_softmax(s[i:])[0];
DPO = either of them on beta * (policy - reference), gradient w.r.t. the policy log-probs.
"""
import json
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(1234)


def bradley_terry(s):
    i, j = torch.triu_indices(len(s), len(s), offset=1)
    return -F.logsigmoid(s[i] - s[j]).mean()


def plackett_luce(s):
    return torch.stack([-torch.log_softmax(s[i:], 0)[0] for i in range(len(s) - 1)]).mean()


LOSSES = {"pairwise": bradley_terry, "listwise": plackett_luce}


def scores(k, scale):
    return (torch.randn(k, dtype=torch.float64) * scale).tolist()


ranking = []
for kind, fn in LOSSES.items():
    for k, scale in [(2, 1.0), (3, 0.5), (4, 2.0), (7, 1.0), (5, 40.0), (2, 300.0)]:
        s = torch.tensor(scores(k, scale), dtype=torch.float64, requires_grad=True)
        loss = fn(s)
        loss.backward()
        ranking.append({"kind": kind, "scores": s.tolist(), "loss": loss.item(),
                        "grad": s.grad.tolist()})

dpo = []
for kind, fn in LOSSES.items():
    for k, beta in [(2, 0.1), (3, 0.5), (4, 0.1), (6, 1.0), (2, 0.05)]:
        ref = torch.randn(k, dtype=torch.float64) * 5 - 20
        pol = (ref + torch.randn(k, dtype=torch.float64) * 3).requires_grad_(True)
        loss = fn(beta * (pol - ref))
        loss.backward()
        dpo.append({"kind": kind, "beta": beta, "policy": pol.tolist(), "reference": ref.tolist(),
                    "loss": loss.item(), "grad": pol.grad.tolist()})

print(json.dumps({"ranking": ranking, "dpo": dpo}))

#!/usr/bin/python3
"""PyTorch side of lmforge's tiny-model parity test (tests/model/parity_test.cpp calls it).

What it is: reads a model directory (config.json + model.safetensors) and an inputs JSON
  {"B", "T", "ids": [B*T], "targets": [B*T] (-1 = masked),
   "adamw": {"steps", "lr", "beta1", "beta2", "eps", "weight_decay", "decayed": [HF names]}}
and writes one safetensors file holding, for dtype D in {f64, f32}:
  D/logits (B,T,V), D/loss (1), D/grad/<HF name> (file layout), D/adamw_losses (steps)
plus __metadata__ "decayed_by_rule" (JSON list: the names the documented policy decays) and
"torch_version". The forward/backward is lm_reference.py; the optimizer is torch.optim.AdamW
with two parameter groups (weight_decay on the `decayed` names, 0 on the rest), no clipping,
the same batch every step, the loss recorded before each update.
With "bf16": true in the inputs it also writes bf16/... : the same float64 computation with every
weight matmul taking bf16-rounded inputs (forward: activation and weight; backward: the incoming
gradient and the other operand), lmforge's definition of --precision bf16; and autocast/logits,
autocast/loss: torch.autocast("cpu", bfloat16) on float32 weights, the peer's bf16 (which also
rounds each matmul's output to bf16, so it is a looser comparison).
What it is not: the comparison — the C++ test compares and decides, so it fails loudly
on its own side. `--demo` runs this on a random model it writes itself (no C++ needed).
"""

import argparse
import json
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lm_reference as ref  # noqa: E402
import st_io  # noqa: E402


def _bf16(t):
    return t.to(torch.bfloat16).to(t.dtype)


class Bf16WeightMM(torch.autograd.Function):
    """x @ w with both operands rounded to bf16, products summed in x's dtype; in backward the
    incoming gradient is rounded too (dx = r(g) r(w)^T, dw = r(x)^T r(g))."""

    @staticmethod
    def forward(ctx, x, w):
        xr, wr = _bf16(x), _bf16(w)
        ctx.save_for_backward(xr, wr)
        return xr @ wr

    @staticmethod
    def backward(ctx, g):
        xr, wr = ctx.saved_tensors
        gr = _bf16(g)
        dx = gr @ wr.transpose(-1, -2)
        dw = xr.reshape(-1, xr.shape[-1]).transpose(0, 1) @ gr.reshape(-1, gr.shape[-1])
        return dx, dw


def run(model_dir, inputs, dtype, bf16=False):
    ref.weight_mm = Bf16WeightMM.apply if bf16 else ref.plain_weight_mm
    cfg, params = ref.load_model_dir(model_dir, dtype)
    B, T = inputs["B"], inputs["T"]
    ids = torch.tensor(inputs["ids"], dtype=torch.int64).view(B, T)
    targets = torch.tensor(inputs["targets"], dtype=torch.int64).view(B, T)
    out = {}
    logits = ref.forward_logits(cfg, params, ids)
    loss = ref.loss_fn(logits, targets)
    loss.backward()
    out["logits"] = logits.detach().clone()
    out["loss"] = loss.detach().reshape(1).clone()
    for name, p in params.items():
        out["grad/" + name] = p.grad.detach().clone()

    opt_cfg = inputs["adamw"]
    decayed = set(opt_cfg["decayed"])
    unknown = decayed - set(params)
    if unknown:
        raise ValueError(f"decayed names not in the model: {sorted(unknown)}")
    groups = [
        {"params": [p for n, p in params.items() if n in decayed], "weight_decay": opt_cfg["weight_decay"]},
        {"params": [p for n, p in params.items() if n not in decayed], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=opt_cfg["lr"], betas=(opt_cfg["beta1"], opt_cfg["beta2"]),
                            eps=opt_cfg["eps"])
    losses = []
    for _ in range(opt_cfg["steps"]):
        opt.zero_grad(set_to_none=True)
        loss = ref.loss_fn(ref.forward_logits(cfg, params, ids), targets)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    out["adamw_losses"] = torch.tensor(losses, dtype=dtype)
    rule = sorted(n for n, p in params.items() if ref.is_decayed_rule(n, p.shape))
    return out, rule


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="model directory (config.json + model.safetensors)")
    ap.add_argument("--inputs", help="inputs JSON")
    ap.add_argument("--out", help="output safetensors file")
    ap.add_argument("--demo", action="store_true", help="write a random tiny model + inputs and run")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)

    if args.demo:
        tmp = tempfile.mkdtemp(prefix="lmforge-parity-demo-")
        args.model = os.path.join(tmp, "model")
        ref.write_random_model_dir(args.model, ref.llama_hf_config(97, 32, 2, 4, 2, 64, 176, False))
        g = torch.Generator().manual_seed(1)
        B, T = 2, 17
        tg = torch.randint(0, 97, (B * T,), generator=g)
        tg[[0, 5, 20]] = -1
        cfg, params = ref.load_model_dir(args.model)
        inputs = {"B": B, "T": T, "ids": torch.randint(0, 97, (B * T,), generator=g).tolist(),
                  "targets": tg.tolist(),
                  "adamw": {"steps": 10, "lr": 1e-3, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8,
                            "weight_decay": 0.1,
                            "decayed": [n for n, p in params.items() if p.dim() >= 2]}}
        args.inputs = os.path.join(tmp, "inputs.json")
        with open(args.inputs, "w") as f:
            json.dump(inputs, f)
        args.out = os.path.join(tmp, "out.safetensors")
    elif not (args.model and args.inputs and args.out):
        ap.error("--model, --inputs and --out are required (or --demo)")

    with open(args.inputs) as f:
        inputs = json.load(f)
    tensors = {}
    rule = None
    runs = [("f64", torch.float64, False), ("f32", torch.float32, False)]
    if inputs.get("bf16"):
        runs.append(("bf16", torch.float64, True))
    for tag, dt, bf in runs:
        out, rule = run(args.model, inputs, dt, bf)
        for k, v in out.items():
            tensors[f"{tag}/{k}"] = v
    ref.weight_mm = ref.plain_weight_mm
    if inputs.get("bf16"):
        cfg, params = ref.load_model_dir(args.model, torch.float32)
        B, T = inputs["B"], inputs["T"]
        ids = torch.tensor(inputs["ids"], dtype=torch.int64).view(B, T)
        targets = torch.tensor(inputs["targets"], dtype=torch.int64).view(B, T)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits = ref.forward_logits(cfg, params, ids)
            loss = ref.loss_fn(logits.float(), targets)
        tensors["autocast/logits"] = logits.float().clone()
        tensors["autocast/loss"] = loss.float().reshape(1).clone()
    st_io.write(args.out, tensors, {"decayed_by_rule": json.dumps(rule), "torch_version": torch.__version__})

    # A summary on stderr: torch's own float32 error against float64 (the floor any f32 engine sees).
    def rel(a, b):
        return ((a.double() - b.double()).norm() / max(b.double().norm().item(), 1e-300)).item()
    worst = max((rel(tensors["f32/" + k[4:]], tensors[k]), k[4:]) for k in tensors if k.startswith("f64/grad/"))
    print(f"parity.py: loss f64 {tensors['f64/loss'].item():.9f} f32 {tensors['f32/loss'].item():.9f}; "
          f"torch f32-vs-f64: logits max abs {(tensors['f32/logits'].double() - tensors['f64/logits']).abs().max().item():.2e}, "
          f"worst grad rel {worst[0]:.2e} ({worst[1]}), adamw losses max abs "
          f"{(tensors['f32/adamw_losses'].double() - tensors['f64/adamw_losses']).abs().max().item():.2e}",
          file=sys.stderr)
    if args.demo:
        print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

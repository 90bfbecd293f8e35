#!/usr/bin/python3
"""PyTorch side of the training benchmark (bench/run_train_bench.sh runs it next to train_bench).

What it is: a nanoGPT-style GPT-2 (nn.Embedding, nn.LayerNorm, nn.Linear with biases, tanh-GELU,
causal attention as masked softmax — torch 1.13 has no fused SDPA — tied head), trained in fp32
with torch.optim.AdamW (foreach, weight decay on matrices only) on random tokens, as Debian's
python3-torch runs it with a fixed number of threads; with --precision bf16 the forward runs under
torch.autocast("cpu", dtype=torch.bfloat16) (matmuls in bf16 through oneDNN, fp32 master weights,
backward and optimizer as autocast leaves them: the usual mixed-precision recipe, no loss scaling).
Prints one JSON line:
  {"config", "precision", "tokens_per_s", "step_ms", "n_params", "flops_per_token", "gflops", ...}
--check-bf16 prints whether bf16 is a fair reference here and exits 0 (yes) or 3 (no, with the
reason): PyTorch 1.13's own test (its oneDNN bf16 matmul refuses CPUs without AVX512BW/VL/DQ,
raised by mkldnn_linear), and bf16 instructions in the CPU (AVX512_BF16 or AMX-BF16; without them
oneDNN emulates bf16 in fp32, slower than plain fp32 and no reference for a bf16 speed).
What it is not: a test, nor the parity reference (tests/reference/ is written independently and
optimized for clarity; this one mirrors how people actually train with PyTorch).
"""

import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "small": dict(V=8192, T=256, L=6, H=6, C=384, B=8),
    "tiny": dict(V=4096, T=128, L=4, H=4, C=128, B=16),
}


class Block(nn.Module):
    def __init__(self, C, H, T):
        super().__init__()
        self.H = H
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)
        self.register_buffer("mask", torch.ones(T, T, dtype=torch.bool).triu(1))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = F.softmax(att.masked_fill(self.mask[:T, :T], float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, V, T, L, H, C):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList(Block(C, H, T) for _ in range(L))
        self.ln_f = nn.LayerNorm(C)
        self.lm_head = nn.Linear(C, V, bias=False)
        self.lm_head.weight = self.wte.weight  # tied
        for n, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * L) if n.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif n.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for blk in self.h:
            x = blk(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def bf16_status():
    """(usable, reason) for PyTorch bf16 autocast as a speed reference on this machine."""
    if not torch.backends.mkldnn.is_available():
        return False, "this PyTorch has no oneDNN (mkldnn): bf16 matmuls would use its slow fallback"
    try:  # PyTorch's own check (aten mkldnn_bf16_device_check), raised by the oneDNN bf16 linear
        a = torch.ones(2, 4, dtype=torch.bfloat16).to_mkldnn()
        torch._C._nn.mkldnn_linear(a, a, None)
    except RuntimeError as e:
        return False, f"PyTorch {torch.__version__} refuses oneDNN bf16 on this CPU: {str(e).splitlines()[0]}"
    native = sorted({"avx512_bf16", "amx_bf16"} & cpu_flags())
    if not native:
        return False, "the CPU has neither avx512_bf16 nor amx_bf16: oneDNN would emulate bf16 in fp32"
    return True, f"PyTorch {torch.__version__} oneDNN bf16 with {', '.join(native)}"


def main():
    ap = argparse.ArgumentParser(description="PyTorch nanoGPT-style training throughput")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="tiny")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: the forward under torch.autocast('cpu', dtype=torch.bfloat16)")
    ap.add_argument("--check-bf16", action="store_true",
                    help="print whether bf16 autocast is a fair reference here; exit 0 yes, 3 no")
    args = ap.parse_args()
    if args.check_bf16 or args.precision == "bf16":
        ok, reason = bf16_status()
        if args.check_bf16 or not ok:
            print(f"pytorch bf16: {'yes' if ok else 'no'}: {reason}",
                  file=sys.stdout if args.check_bf16 else sys.stderr)
            sys.exit(0 if ok else 3)
    bf16 = args.precision == "bf16"
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    c = CONFIGS[args.config]
    V, T, L, H, C, B = (c[k] for k in "VTLHCB")
    model = GPT(V, T, L, H, C)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, V, (B, T), generator=g)
    y = torch.randint(0, V, (B, T), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(x, y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    n_params = sum(p.numel() for p in model.parameters())  # tied head counted once
    # nanoGPT/PaLM estimate, as lmforge's Transformer::flops_per_token: N counts the parameters
    # used in matmuls (all but the position table).
    flops_per_token = 6 * (n_params - model.wpe.weight.numel()) + 12 * L * C * T
    tps = B * T / median
    print(json.dumps({"impl": "pytorch", "config": args.config, "precision": args.precision,
                      "torch": torch.__version__,
                      "threads": args.threads, "tokens_per_s": round(tps, 1), "step_ms": round(median * 1e3, 2),
                      "n_params": n_params, "flops_per_token": flops_per_token,
                      "gflops": round(tps * flops_per_token / 1e9, 2), "last_loss": round(loss, 4)}))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Self-tests of the PyTorch parity reference (lm_reference.py, st_io.py, parity.py), run by CTest.

What it is: checks that the reference is itself right before it judges lmforge: each explicit
op against torch's built-in (F.layer_norm, F.gelu(approximate="tanh"), F.cross_entropy), the
matrix attention against a per-position loop, RoPE against the complex-number form and its
relative-position property, GQA against the equivalent MHA model (kv weights repeated per
group), Qwen3's q/k norm as a per-head invariance, finite differences vs autograd for every tensor of the tiny models in float64, safetensors round
trips, and that malformed model files are rejected. Exits non-zero on any failure.
What it is not: a test of lmforge's C++ (tests/model/parity_test.cpp is).
"""

import math
import os
import shutil
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lm_reference as ref  # noqa: E402
import parity  # noqa: E402
import st_io  # noqa: E402

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def close(a, b, tol):
    return (a - b).abs().max().item() <= tol


def test_st_io(tmp):
    t = {"a": torch.randn(3, 5, dtype=torch.float64), "b": torch.randn(7).float(),
         "c": torch.arange(6, dtype=torch.int32).view(2, 3), "d": torch.randn(4).bfloat16(),
         "e": torch.zeros(0, 4)}
    p = os.path.join(tmp, "x.safetensors")
    st_io.write(p, t, {"k": "v"})
    back, meta = st_io.read(p)
    check(meta == {"k": "v"}, "st_io: metadata round trip")
    check(all(back[k].dtype == t[k].dtype and torch.equal(back[k], t[k]) for k in t),
          "st_io: tensors round trip bit-exactly (F64, F32, I32, BF16, empty)")
    with open(p, "rb") as f:
        raw = f.read()
    check(int.from_bytes(raw[:8], "little") % 8 == 0, "st_io: header padded to 8 bytes")
    with open(p, "wb") as f:
        f.write(raw[:-4])
    try:
        st_io.read(p)
        check(False, "st_io: truncated file rejected")
    except ValueError:
        check(True, "st_io: truncated file rejected")


def test_ops():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 33, dtype=torch.float64, generator=g)
    w = torch.randn(33, dtype=torch.float64, generator=g)
    b = torch.randn(33, dtype=torch.float64, generator=g)
    check(close(ref.layer_norm(x, w, b, 1e-5), F.layer_norm(x, (33,), w, b, 1e-5), 1e-12),
          "layer_norm == F.layer_norm")
    rms = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w  # HF LlamaRMSNorm formula
    check(close(ref.rms_norm(x, w, 1e-6), rms, 1e-12), "rms_norm == HF LlamaRMSNorm formula")
    check(close(ref.gelu_tanh(x), F.gelu(x, approximate="tanh"), 1e-12), "gelu_tanh == F.gelu(tanh)")
    logits = torch.randn(2, 7, 31, dtype=torch.float64, generator=g)
    tg = torch.randint(0, 31, (2, 7), generator=g)
    tg[0, 3] = -1
    tg[1, 0] = -1
    check(close(ref.loss_fn(logits, tg), F.cross_entropy(logits.view(-1, 31), tg.view(-1), ignore_index=-1), 1e-12),
          "loss_fn == F.cross_entropy(ignore_index=-1) with masked targets")

    # Attention: matrix form vs a per-query loop over visible keys only.
    B, NH, T, HS = 2, 3, 9, 8
    q, k, v = (torch.randn(B, NH, T, HS, dtype=torch.float64, generator=g) for _ in range(3))
    loop = torch.zeros_like(q)
    for t in range(T):
        s = (q[:, :, t : t + 1] * k[:, :, : t + 1]).sum(-1) / math.sqrt(HS)  # (B,NH,t+1)
        loop[:, :, t] = (torch.softmax(s, -1).unsqueeze(-1) * v[:, :, : t + 1]).sum(2)
    check(close(ref.causal_attention(q, k, v), loop, 1e-12), "causal_attention == per-position loop")

    # RoPE: rotate-half == complex multiply on pairs (i, i+HS/2) by e^{i·pos·θ^(-2i/HS)}.
    theta = 10000.0
    cos, sin = ref.rope_cos_sin(T, HS, theta, torch.float64)
    y = ref.apply_rope(q, cos, sin)
    h = HS // 2
    z = torch.complex(q[..., :h], q[..., h:])
    ang = torch.arange(T, dtype=torch.float64)[:, None] * theta ** (-2.0 * torch.arange(h, dtype=torch.float64) / HS)
    zr = z * torch.polar(torch.ones_like(ang), ang)
    check(close(y, torch.cat([zr.real, zr.imag], -1), 1e-12), "rope rotate-half == complex form")
    # Relative-position property: <rope(q,m), rope(k,n)> depends on m-n only.
    c2, s2 = ref.rope_cos_sin(T, HS, theta, torch.float64, pos0=5)
    a = (ref.apply_rope(q, cos, sin)[..., 2, :] * ref.apply_rope(k, cos, sin)[..., 0, :]).sum(-1)
    b2 = (ref.apply_rope(q, c2, s2)[..., 2, :] * ref.apply_rope(k, c2, s2)[..., 0, :]).sum(-1)
    check(close(a, b2, 1e-10), "rope scores invariant to a shift of both positions")
    check(close(ref.rope_cos_sin(1, HS, theta, torch.float64)[1], torch.zeros(1, HS, dtype=torch.float64), 0),
          "rope is the identity at position 0")


def test_gqa_equals_mha(tmp):
    d = os.path.join(tmp, "gqa")
    ref.write_random_model_dir(d, ref.llama_hf_config(23, 16, 2, 4, 2, 32, 48, False), seed=3)
    cfg, P = ref.load_model_dir(d)
    ids = torch.randint(0, 23, (2, 11), generator=torch.Generator().manual_seed(4))
    gqa = ref.forward_logits(cfg, P, ids)
    mcfg = dict(cfg, NKV=cfg["NH"])
    M = {}
    rep = cfg["NH"] // cfg["NKV"]
    for n, t in P.items():
        t = t.detach()
        if n.endswith(("k_proj.weight", "v_proj.weight")):
            t = t.view(cfg["NKV"], cfg["HS"], -1).repeat_interleave(rep, 0).reshape(cfg["NH"] * cfg["HS"], -1)
        M[n] = t
    check(close(gqa, ref.forward_logits(mcfg, M, ids), 1e-12), "GQA (NH 4, NKV 2) == MHA with kv heads repeated")
    # And GQA is not silently MHA: pairing kv heads the other way round ("tile") changes logits.
    W = dict(M)
    for n, t in P.items():
        if n.endswith(("k_proj.weight", "v_proj.weight")):
            W[n] = t.detach().view(cfg["NKV"], cfg["HS"], -1).repeat(rep, 1, 1).reshape(cfg["NH"] * cfg["HS"], -1)
    check(not close(gqa, ref.forward_logits(mcfg, W, ids), 1e-6), "GQA head grouping is repeat_interleave, not tile")


def test_qwen3_qk_norm(tmp):
    # Qwen3's q/k RMSNorm is per head: scaling the q_proj (or k_proj) rows of one head by a
    # constant leaves the logits unchanged (up to eps), which a Llama model does not; and the q/k
    # norm weights matter (setting one to 2 changes the logits).
    d = os.path.join(tmp, "qwen3")
    hf = ref.qwen3_hf_config(23, 16, 2, 4, 2, 32, 12, 48, False)
    hf["rms_norm_eps"] = 1e-12
    ref.write_random_model_dir(d, hf, seed=5)
    cfg, P = ref.load_model_dir(d)
    check(cfg["HS"] == 12 and cfg["C"] // cfg["NH"] == 8, "qwen3: head_dim read apart from C/NH")
    ids = torch.randint(0, 23, (2, 9), generator=torch.Generator().manual_seed(6))
    base = ref.forward_logits(cfg, P, ids)
    Q = {n: t.detach().clone() for n, t in P.items()}
    HS = cfg["HS"]
    Q["model.layers.0.self_attn.q_proj.weight"][HS:2 * HS] *= 3.0   # q head 1
    Q["model.layers.1.self_attn.k_proj.weight"][:HS] *= 0.25        # k head 0
    check(close(base, ref.forward_logits(cfg, Q, ids), 1e-9),
          "qwen3: per-head scaling of q_proj / k_proj rows leaves the logits unchanged")
    L = dict(cfg, arch="llama")
    check(not close(ref.forward_logits(L, {n: t.detach() for n, t in P.items()}, ids),
                    ref.forward_logits(L, Q, ids), 1e-6),
          "llama (no q/k norm): the same scaling changes the logits")
    Q = {n: t.detach().clone() for n, t in P.items()}
    Q["model.layers.1.self_attn.k_norm.weight"][3] = 2.0
    check(not close(base, ref.forward_logits(cfg, Q, ids), 1e-6), "qwen3: k_norm weights are used")


def test_gradcheck(tmp):
    configs = {
        "gpt2": ref.gpt2_hf_config(11, 8, 1, 2, 8),
        "llama-gqa-untied": ref.llama_hf_config(11, 8, 1, 4, 2, 8, 12, False),
        "llama-tied": ref.llama_hf_config(11, 8, 2, 2, 1, 8, 12, True),
        "qwen3-gqa-tied": ref.qwen3_hf_config(11, 8, 2, 4, 2, 8, 6, 12, True),
    }
    for tag, hf in configs.items():
        d = os.path.join(tmp, "gc-" + tag)
        ref.write_random_model_dir(d, hf, seed=7)
        cfg, P = ref.load_model_dir(d)
        names = sorted(P)
        ids = torch.randint(0, 11, (2, 5), generator=torch.Generator().manual_seed(8))
        tg = torch.randint(0, 11, (2, 5), generator=torch.Generator().manual_seed(9))
        tg[0, 1] = -1

        loss = ref.loss_fn(ref.forward_logits(cfg, P, ids), tg)
        grads = dict(zip(names, torch.autograd.grad(loss, [P[n] for n in names])))
        # Directional central differences, one random direction per tensor (so an error in any
        # one tensor's gradient shows up by name), in float64: error O(eps^2) ~ 1e-10.
        eps, worst, worst_name = 1e-5, 0.0, ""
        gen = torch.Generator().manual_seed(10)
        with torch.no_grad():
            for n in names:
                d = torch.randn(P[n].shape, dtype=torch.float64, generator=gen)
                Q = {m: P[m].detach() for m in names}
                Q[n] = P[n].detach() + eps * d
                fp = ref.loss_fn(ref.forward_logits(cfg, Q, ids), tg).item()
                Q[n] = P[n].detach() - eps * d
                fm = ref.loss_fn(ref.forward_logits(cfg, Q, ids), tg).item()
                fd, an = (fp - fm) / (2 * eps), (grads[n] * d).sum().item()
                err = abs(fd - an) / max(abs(fd), 1e-8)
                if err > worst:
                    worst, worst_name = err, n
        check(worst < 1e-6, f"finite differences (float64) match autograd for every tensor of the {tag} "
                            f"model (worst rel {worst:.1e} at {worst_name})")


def test_rejects_bad_files(tmp):
    d = os.path.join(tmp, "bad")
    t = ref.write_random_model_dir(d, ref.gpt2_hf_config(13, 8, 1, 2, 8))
    t["transformer.h.0.attn.c_attn.weight"] = t["transformer.h.0.attn.c_attn.weight"].t().contiguous()
    st_io.write(os.path.join(d, "model.safetensors"), t)
    try:
        ref.load_model_dir(d)
        check(False, "a Conv1D weight stored (out,in) is rejected")
    except ValueError as e:
        check("c_attn" in str(e), "a Conv1D weight stored (out,in) is rejected")
    del t["transformer.h.0.attn.c_attn.weight"]
    st_io.write(os.path.join(d, "model.safetensors"), t)
    try:
        ref.load_model_dir(d)
        check(False, "a missing tensor is rejected")
    except ValueError as e:
        check("lacks" in str(e), "a missing tensor is rejected")


def test_parity_demo():
    # End to end: parity.py on a model it writes itself, then its output file is well formed.
    out = None
    import io
    import contextlib
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = parity.main(["--demo"])
    out = buf.getvalue().strip()
    t, meta = st_io.read(out)
    shutil.rmtree(os.path.dirname(out))  # the demo's temporary directory
    check(rc == 0 and t["f64/adamw_losses"].shape == (10,) and "decayed_by_rule" in meta,
          "parity.py --demo writes logits, loss, grads, 10 AdamW losses")
    ls = t["f64/adamw_losses"]
    check(bool((ls[1:] < ls[:-1]).all()), "AdamW on one batch lowers the loss every step")
    check(close(ls[0:1], t["f64/loss"], 1e-12), "the first AdamW loss is the step-0 loss")
    check(close(t["f32/logits"].double(), t["f64/logits"], 1e-4), "torch float32 agrees with float64")


def main():
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="lmforge-ref-selftest-") as tmp:
        test_st_io(tmp)
        test_ops()
        test_gqa_equals_mha(tmp)
        test_qwen3_qk_norm(tmp)
        test_gradcheck(tmp)
        test_rejects_bad_files(tmp)
        test_parity_demo()
    if FAILURES:
        print(f"{len(FAILURES)} reference self-test(s) FAILED", file=sys.stderr)
        return 1
    print("all reference self-tests passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

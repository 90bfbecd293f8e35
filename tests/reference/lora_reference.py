#!/usr/bin/python3
"""PyTorch LoRA reference for lmforge's LoRA parity test (tests/model/lora_parity_test.cpp).

What it is: PEFT's LoRA semantics written from its documentation and source behaviour, on top of
lm_reference.py's independent model, reading the PEFT files lmforge wrote:
  adapter_config.json      r, lora_alpha, target_modules, fan_in_fan_out (peft_type must be LORA)
  adapter_model.safetensors  base_model.model.<module>.lora_A.weight (r, in), .lora_B.weight (out, r)
A module is adapted when its name equals a target_modules entry or ends with "." + the entry
(PEFT's suffix rule). scaling = lora_alpha / r. Two formulations, as PEFT has both:
  * unmerged (PEFT's LoraLayer.forward): y = base(x) + scaling · (x·Aᵀ)·Bᵀ, used for Llama by
    wrapping lm_reference's nn.Linear helper _lin;
  * merged (PEFT's merge with fan_in_fan_out): W' = W + scaling · (B·A)ᵀ for GPT-2's Conv1D weights
    stored (in, out), used for GPT-2 whose reference forward multiplies by the weights inline.
`--selftest` checks that the two formulations agree (float64) on random Llama and GPT-2 models,
that a zero B is the identity, and that unknown target modules and stray tensors are refused.
Reads --model DIR --adapter DIR --inputs JSON {"B","T","ids","targets"} and writes --out, a
safetensors file with, for D in {f64, f32}: D/logits (B,T,V), D/loss (1), D/grad/<adapter key>.
Base weights are frozen (no gradient), as in lmforge.
What it is not: the peft package (not installed), nor derived from lmforge's C++; no dropout.
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lm_reference as ref  # noqa: E402
import st_io  # noqa: E402

PREFIX = "base_model.model."


def linear_modules(cfg, params):
    """Names of the model's linear layers (2-D weights but the embeddings and the head)."""
    skip = {"transformer.wte.weight", "transformer.wpe.weight", "model.embed_tokens.weight",
            "lm_head.weight"}
    return [n[: -len(".weight")] for n, p in params.items()
            if p.dim() == 2 and n.endswith(".weight") and n not in skip]


def matches(module, target):
    return module == target or module.endswith("." + target)


def load_adapter(path, cfg, params, dtype):
    """Returns (scaling, fan_in_fan_out, {module: (A, B)}) with A, B leaves requiring grad."""
    with open(os.path.join(path, "adapter_config.json")) as f:
        ac = json.load(f)
    if ac.get("peft_type") != "LORA":
        raise ValueError(f"peft_type {ac.get('peft_type')!r}: only LORA")
    r, alpha = ac["r"], ac["lora_alpha"]
    targets = ac["target_modules"]
    if isinstance(targets, str):
        raise ValueError("regex target_modules are not handled by this reference")
    mods = linear_modules(cfg, params)
    for t in targets:
        if not any(matches(m, t) for m in mods):
            raise ValueError(f"target module {t!r} matches no module of the model")
    tensors, _ = st_io.read(os.path.join(path, "adapter_model.safetensors"))
    fifo = bool(ac.get("fan_in_fan_out", False))
    adapters, used = {}, set()
    for m in mods:
        if not any(matches(m, t) for t in targets):
            continue
        w = params[m + ".weight"]
        fan_in, fan_out = (w.shape[0], w.shape[1]) if fifo else (w.shape[1], w.shape[0])
        ka, kb = PREFIX + m + ".lora_A.weight", PREFIX + m + ".lora_B.weight"
        for k, shape in ((ka, (r, fan_in)), (kb, (fan_out, r))):
            if k not in tensors:
                raise ValueError(f"adapter_model.safetensors lacks {k}")
            if tuple(tensors[k].shape) != shape:
                raise ValueError(f"{k}: shape {tuple(tensors[k].shape)}, expected {shape}")
            used.add(k)
        adapters[m] = tuple(tensors[k].to(dtype).clone().requires_grad_(True) for k in (ka, kb))
    stray = set(tensors) - used
    if stray:
        raise ValueError(f"adapter tensors no target explains: {sorted(stray)}")
    return alpha / r, fifo, adapters


@contextlib.contextmanager
def unmerged_linears(adapters, scaling):
    """Wraps lm_reference._lin (nn.Linear semantics) with PEFT's unmerged LoRA forward."""
    base = ref._lin

    def lin(x, P, name):
        y = base(x, P, name)
        if name in adapters:
            A, B = adapters[name]
            y = y + scaling * ((x @ A.t()) @ B.t())
        return y

    ref._lin = lin
    try:
        yield
    finally:
        ref._lin = base


def merged_params(params, adapters, scaling, fifo):
    """PEFT's merge: W + scaling·B·A, transposed for fan_in_fan_out (Conv1D (in, out)) weights."""
    out = dict(params)
    for m, (A, B) in adapters.items():
        delta = scaling * (B @ A)
        out[m + ".weight"] = params[m + ".weight"] + (delta.t() if fifo else delta)
    return out


def adapted_logits(cfg, params, adapters, scaling, fifo, ids, merged=None):
    if merged is None:
        merged = cfg["arch"] == "gpt2"  # GPT-2's reference forward has no _lin to wrap
    if merged:
        return ref.forward_logits(cfg, merged_params(params, adapters, scaling, fifo), ids)
    if cfg["arch"] == "gpt2":
        raise ValueError("the unmerged formulation needs a forward that uses _lin (Llama, Qwen3)")
    with unmerged_linears(adapters, scaling):
        return ref.forward_logits(cfg, params, ids)


def run(model_dir, adapter_dir, inputs, dtype):
    cfg, params = ref.load_model_dir(model_dir, dtype)
    for p in params.values():
        p.requires_grad_(False)  # frozen base
    scaling, fifo, adapters = load_adapter(adapter_dir, cfg, params, dtype)
    B, T = inputs["B"], inputs["T"]
    ids = torch.tensor(inputs["ids"], dtype=torch.int64).view(B, T)
    targets = torch.tensor(inputs["targets"], dtype=torch.int64).view(B, T)
    logits = adapted_logits(cfg, params, adapters, scaling, fifo, ids)
    loss = ref.loss_fn(logits, targets)
    loss.backward()
    out = {"logits": logits.detach().clone(), "loss": loss.detach().reshape(1).clone()}
    for m, (A, Bm) in adapters.items():
        out["grad/" + PREFIX + m + ".lora_A.weight"] = A.grad.detach().clone()
        out["grad/" + PREFIX + m + ".lora_B.weight"] = Bm.grad.detach().clone()
    return out


def write_random_adapter(path, cfg, params, targets, r, alpha, fifo, seed, b_std=0.1):
    os.makedirs(path, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for m in linear_modules(cfg, params):
        if not any(matches(m, t) for t in targets):
            continue
        w = params[m + ".weight"]
        fan_in, fan_out = (w.shape[0], w.shape[1]) if fifo else (w.shape[1], w.shape[0])
        tensors[PREFIX + m + ".lora_A.weight"] = (torch.rand(r, fan_in, generator=g) * 2 - 1) / fan_in ** 0.5
        tensors[PREFIX + m + ".lora_B.weight"] = b_std * torch.randn(fan_out, r, generator=g)
    with open(os.path.join(path, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": alpha,
                   "target_modules": targets, "fan_in_fan_out": fifo}, f)
    st_io.write(os.path.join(path, "adapter_model.safetensors"), tensors)
    return tensors


def selftest():
    tmp = tempfile.mkdtemp(prefix="lmforge-lora-ref-")
    ids = torch.randint(0, 97, (2, 9), generator=torch.Generator().manual_seed(3))
    cases = [
        ("llama", ref.llama_hf_config(97, 32, 2, 4, 2, 32, 48, False),
         ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], False),
        ("gpt2", ref.gpt2_hf_config(97, 32, 2, 4, 32), ["c_attn", "c_proj", "c_fc"], True),
        ("qwen3", ref.qwen3_hf_config(97, 32, 2, 4, 2, 32, 12, 48, True),
         ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], False),
    ]
    for tag, hf, targets, fifo in cases:
        mdir, adir = os.path.join(tmp, tag), os.path.join(tmp, tag + "-adapter")
        ref.write_random_model_dir(mdir, hf, seed=1)
        cfg, params = ref.load_model_dir(mdir)
        write_random_adapter(adir, cfg, params, targets, 3, 6, fifo, seed=2)
        scaling, fifo2, adapters = load_adapter(adir, cfg, params, torch.float64)
        assert fifo2 == fifo and scaling == 2.0
        n_mod = len(linear_modules(cfg, params))
        assert len(adapters) == n_mod, (tag, len(adapters), n_mod)  # "c_proj" caught both
        base = ref.forward_logits(cfg, params, ids)
        merged = adapted_logits(cfg, params, adapters, scaling, fifo, ids, merged=True)
        if cfg["arch"] != "gpt2":
            unmerged = adapted_logits(cfg, params, adapters, scaling, fifo, ids, merged=False)
            err = (merged - unmerged).abs().max().item()
            assert err < 1e-12, f"{tag}: merged vs unmerged differ by {err}"
        moved = (merged - base).abs().max().item()
        assert moved > 1e-3, f"{tag}: the adapter does not change the logits ({moved})"
        zero = {m: (A, torch.zeros_like(B)) for m, (A, B) in adapters.items()}
        same = adapted_logits(cfg, params, zero, scaling, fifo, ids)
        assert torch.equal(same, base) or (same - base).abs().max().item() < 1e-14
        # Refusals: a target that matches nothing, a tensor no target explains.
        with open(os.path.join(adir, "adapter_config.json")) as f:
            ac = json.load(f)
        for bad in (targets + ["nope_proj"], targets[:1]):
            with open(os.path.join(adir, "adapter_config.json"), "w") as f:
                json.dump(dict(ac, target_modules=bad), f)
            try:
                load_adapter(adir, cfg, params, torch.float64)
            except ValueError:
                continue
            raise AssertionError(f"{tag}: target_modules {bad} was not refused")
    print("lora_reference selftest: ok")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="base model directory (config.json + model.safetensors)")
    ap.add_argument("--adapter", help="PEFT adapter directory")
    ap.add_argument("--inputs", help="inputs JSON")
    ap.add_argument("--out", help="output safetensors file")
    ap.add_argument("--selftest", action="store_true", help="check the reference itself")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.selftest:
        return selftest()
    if not (args.model and args.adapter and args.inputs and args.out):
        ap.error("--model, --adapter, --inputs and --out are required (or --selftest)")
    with open(args.inputs) as f:
        inputs = json.load(f)
    tensors = {}
    for tag, dt in (("f64", torch.float64), ("f32", torch.float32)):
        for k, v in run(args.model, args.adapter, inputs, dt).items():
            tensors[f"{tag}/{k}"] = v
    st_io.write(args.out, tensors, {"torch_version": torch.__version__})
    return 0


if __name__ == "__main__":
    sys.exit(main())

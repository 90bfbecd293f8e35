"""Independent PyTorch reference for the model families lmforge trains (tests only).

What it is: GPT-2 (learned positions, LayerNorm, tanh-GELU, biases, tied head), Llama (RoPE
rotate-half, RMSNorm, SwiGLU, grouped-query attention by repeat_interleave of the kv heads, tied or
untied head) and Qwen3 (Llama plus an RMSNorm over each q and k head after the projection and
before RoPE, weights self_attn.q_norm / k_norm of size head_dim; head_dim free of C/NH) written from the papers / HF semantics with explicit formulas on plain tensors,
reading a Hugging Face model directory (config.json + model.safetensors, parsed by st_io).
Parameters are kept exactly as the file stores them (GPT-2's Conv1D weights (in, out), Linear
weights (out, in)), so gradients come back in the file's layout, keyed by HF name.
What it is not: the `transformers` library, nor derived from lmforge's C++ (that is the point:
the two are written apart and must agree). No KV cache, no dropout, no inference tricks.
"""

import json
import math
import os

import torch

import st_io


def parse_config(cfg):
    """HF config.json dict -> a flat dict of what the reference needs."""
    archs = cfg.get("architectures") or []
    mt = cfg.get("model_type", "")
    if "GPT2LMHeadModel" in archs or mt == "gpt2":
        C = cfg["n_embd"]
        NH = cfg["n_head"]
        return dict(
            arch="gpt2", V=cfg["vocab_size"], C=C, L=cfg["n_layer"], NH=NH, NKV=NH, HS=C // NH,
            FF=cfg.get("n_inner") or 4 * C, n_ctx=cfg.get("n_positions", cfg.get("n_ctx")),
            eps=cfg.get("layer_norm_epsilon", 1e-5), tie=cfg.get("tie_word_embeddings", True),
        )
    if "Qwen3ForCausalLM" in archs or mt == "qwen3":
        C = cfg["hidden_size"]
        NH = cfg["num_attention_heads"]
        return dict(
            arch="qwen3", V=cfg["vocab_size"], C=C, L=cfg["num_hidden_layers"], NH=NH,
            NKV=cfg.get("num_key_value_heads") or NH, HS=cfg.get("head_dim") or 128,
            FF=cfg["intermediate_size"], n_ctx=cfg.get("max_position_embeddings"),
            eps=cfg.get("rms_norm_eps", 1e-6), theta=cfg.get("rope_theta", 10000.0),
            tie=cfg.get("tie_word_embeddings", False),
            attn_bias=bool(cfg.get("attention_bias", False)), mlp_bias=False,
        )
    if "LlamaForCausalLM" in archs or mt in ("llama", "qwen2", "mistral"):
        C = cfg["hidden_size"]
        NH = cfg["num_attention_heads"]
        return dict(
            arch="llama", V=cfg["vocab_size"], C=C, L=cfg["num_hidden_layers"], NH=NH,
            NKV=cfg.get("num_key_value_heads") or NH, HS=cfg.get("head_dim") or C // NH,
            FF=cfg["intermediate_size"], n_ctx=cfg.get("max_position_embeddings"),
            eps=cfg.get("rms_norm_eps", 1e-6), theta=cfg.get("rope_theta", 10000.0),
            tie=cfg.get("tie_word_embeddings", False),
            # None when the config does not say (Qwen2 has q/k/v biases and no such key).
            attn_bias=cfg.get("attention_bias"), mlp_bias=cfg.get("mlp_bias"),
        )
    raise ValueError(f"unsupported architecture {archs} / model_type {mt!r}")


def load_model_dir(path, dtype=torch.float64):
    """Returns (cfg, params) with params: dict HF name -> leaf tensor (requires_grad) in `dtype`."""
    with open(os.path.join(path, "config.json")) as f:
        cfg = parse_config(json.load(f))
    tensors, _ = st_io.read(os.path.join(path, "model.safetensors"))
    params = {}
    for name, t in tensors.items():
        params[name] = t.to(dtype).clone().requires_grad_(True)
    head = "lm_head.weight"
    if cfg["tie"] and head in params:
        # A tied head saved explicitly (HF sometimes does) is the embedding; keep one leaf.
        emb = "transformer.wte.weight" if cfg["arch"] == "gpt2" else "model.embed_tokens.weight"
        if not torch.equal(params[head].detach(), params[emb].detach()):
            raise ValueError("tie_word_embeddings is true but lm_head.weight differs from the embedding")
        del params[head]
    check_shapes(cfg, params)
    return cfg, params


def expected_shapes(cfg):
    """HF name -> shape as stored in model.safetensors (biases that are optional are omitted)."""
    V, C, L, NH, NKV, HS, FF = (cfg[k] for k in ("V", "C", "L", "NH", "NKV", "HS", "FF"))
    s = {}
    if cfg["arch"] == "gpt2":
        s["transformer.wte.weight"] = (V, C)
        s["transformer.wpe.weight"] = (cfg["n_ctx"], C)
        for i in range(L):
            p = f"transformer.h.{i}."
            s.update({p + "ln_1.weight": (C,), p + "ln_1.bias": (C,),
                      p + "attn.c_attn.weight": (C, 3 * C), p + "attn.c_attn.bias": (3 * C,),
                      p + "attn.c_proj.weight": (C, C), p + "attn.c_proj.bias": (C,),
                      p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
                      p + "mlp.c_fc.weight": (C, FF), p + "mlp.c_fc.bias": (FF,),
                      p + "mlp.c_proj.weight": (FF, C), p + "mlp.c_proj.bias": (C,)})
        s["transformer.ln_f.weight"] = (C,)
        s["transformer.ln_f.bias"] = (C,)
    else:
        s["model.embed_tokens.weight"] = (V, C)
        for i in range(L):
            p = f"model.layers.{i}."
            s.update({p + "input_layernorm.weight": (C,),
                      p + "self_attn.q_proj.weight": (NH * HS, C),
                      p + "self_attn.k_proj.weight": (NKV * HS, C),
                      p + "self_attn.v_proj.weight": (NKV * HS, C),
                      p + "self_attn.o_proj.weight": (C, NH * HS),
                      p + "post_attention_layernorm.weight": (C,),
                      p + "mlp.gate_proj.weight": (FF, C), p + "mlp.up_proj.weight": (FF, C),
                      p + "mlp.down_proj.weight": (C, FF)})
            if cfg["arch"] == "qwen3":
                s.update({p + "self_attn.q_norm.weight": (HS,), p + "self_attn.k_norm.weight": (HS,)})
        s["model.norm.weight"] = (C,)
        if not cfg["tie"]:
            s["lm_head.weight"] = (V, C)
    return s


def _optional_biases(cfg):
    """Llama-family biases that may or may not be present (Qwen2 has q/k/v biases)."""
    if cfg["arch"] == "gpt2":
        return {}
    C, NH, NKV, HS, FF = (cfg[k] for k in ("C", "NH", "NKV", "HS", "FF"))
    s = {}
    for i in range(cfg["L"]):
        p = f"model.layers.{i}."
        s.update({p + "self_attn.q_proj.bias": (NH * HS,), p + "self_attn.k_proj.bias": (NKV * HS,),
                  p + "self_attn.v_proj.bias": (NKV * HS,), p + "self_attn.o_proj.bias": (C,),
                  p + "mlp.gate_proj.bias": (FF,), p + "mlp.up_proj.bias": (FF,),
                  p + "mlp.down_proj.bias": (C,)})
    return s


def check_shapes(cfg, params):
    exp = expected_shapes(cfg)
    opt = _optional_biases(cfg)
    for name, shape in exp.items():
        if name not in params:
            raise ValueError(f"model.safetensors lacks {name}")
        if tuple(params[name].shape) != tuple(shape):
            raise ValueError(f"{name}: shape {tuple(params[name].shape)}, expected {shape}")
    # HF LlamaForCausalLM: attention_bias puts biases on q, k, v and o; mlp_bias on gate, up, down.
    for key, parts in (("attn_bias", ("q_proj", "k_proj", "v_proj", "o_proj")),
                       ("mlp_bias", ("gate_proj", "up_proj", "down_proj"))):
        if cfg.get(key) is None:
            continue
        for name in opt:
            if any(f".{p}.bias" in name for p in parts) and (name in params) != bool(cfg[key]):
                raise ValueError(f"{name}: {'missing' if cfg[key] else 'present'} although config.json "
                                 f"says {'attention_bias' if key == 'attn_bias' else key}={cfg[key]}")
    for name, t in params.items():
        if name in exp:
            continue
        if name not in opt:
            raise ValueError(f"model.safetensors has an unexpected tensor {name}")
        if tuple(t.shape) != tuple(opt[name]):
            raise ValueError(f"{name}: shape {tuple(t.shape)}, expected {opt[name]}")


# ---- ops, each an explicit formula -------------------------------------------------------------

def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)  # biased, as nn.LayerNorm
    return (x - mean) / torch.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def gelu_tanh(x):
    # GPT-2's "gelu_new": 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def rope_cos_sin(T, HS, theta, dtype, pos0=0):
    # HF rotate-half layout: pair (i, i + HS/2) turns by (pos)·theta^(-2i/HS).
    inv_freq = 1.0 / (theta ** (torch.arange(0, HS, 2, dtype=torch.float64) / HS))
    pos = torch.arange(pos0, pos0 + T, dtype=torch.float64)
    ang = torch.outer(pos, inv_freq)            # (T, HS/2)
    ang = torch.cat([ang, ang], dim=-1)         # (T, HS)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def apply_rope(x, cos, sin):
    # x (B, heads, T, HS); cos/sin (T, HS)
    return x * cos + rotate_half(x) * sin


def causal_attention(q, k, v):
    # q (B,NH,T,HS), k/v (B,NH,T,HS) (kv heads already repeated); softmax(q·kᵀ/√HS + causal mask)·v
    T, HS = q.shape[-2], q.shape[-1]
    att = (q @ k.transpose(-1, -2)) / math.sqrt(HS)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    att = att.masked_fill(mask, float("-inf"))
    att = torch.softmax(att, dim=-1)
    return att @ v


def _split_heads(x, n, hs):
    B, T, _ = x.shape
    return x.view(B, T, n, hs).transpose(1, 2)  # (B, n, T, hs)


def _merge_heads(x):
    B, n, T, hs = x.shape
    return x.transpose(1, 2).reshape(B, T, n * hs)


def plain_weight_mm(x, w):
    return x @ w


# Every product of activations with a weight matrix goes through weight_mm (attention's q·k and
# p·v do not: they are not weight matmuls). parity.py swaps it for a bf16-input matmul to model
# lmforge's --precision bf16.
weight_mm = plain_weight_mm


def _wmm(x, w):
    return weight_mm(x, w)


def _lin(x, params, name):
    """nn.Linear semantics: weight (out, in), optional bias."""
    y = _wmm(x, params[name + ".weight"].t())
    b = params.get(name + ".bias")
    return y + b if b is not None else y


def forward_logits(cfg, params, ids):
    """ids (B,T) int64 -> logits (B,T,V)."""
    B, T = ids.shape
    L, NH, NKV, HS, eps = cfg["L"], cfg["NH"], cfg["NKV"], cfg["HS"], cfg["eps"]
    if cfg["arch"] == "gpt2":
        P = params
        x = P["transformer.wte.weight"][ids] + P["transformer.wpe.weight"][:T]
        for i in range(L):
            p = f"transformer.h.{i}."
            h = layer_norm(x, P[p + "ln_1.weight"], P[p + "ln_1.bias"], eps)
            qkv = _wmm(h, P[p + "attn.c_attn.weight"]) + P[p + "attn.c_attn.bias"]  # Conv1D: (in, out)
            q, k, v = qkv.split(cfg["C"], dim=-1)
            y = causal_attention(_split_heads(q, NH, HS), _split_heads(k, NH, HS), _split_heads(v, NH, HS))
            x = x + _wmm(_merge_heads(y), P[p + "attn.c_proj.weight"]) + P[p + "attn.c_proj.bias"]
            h = layer_norm(x, P[p + "ln_2.weight"], P[p + "ln_2.bias"], eps)
            h = gelu_tanh(_wmm(h, P[p + "mlp.c_fc.weight"]) + P[p + "mlp.c_fc.bias"])
            x = x + _wmm(h, P[p + "mlp.c_proj.weight"]) + P[p + "mlp.c_proj.bias"]
        x = layer_norm(x, P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], eps)
        return _wmm(x, P["transformer.wte.weight"].t())
    P = params
    x = P["model.embed_tokens.weight"][ids]
    cos, sin = rope_cos_sin(T, HS, cfg["theta"], x.dtype)
    rep = NH // NKV
    for i in range(L):
        p = f"model.layers.{i}."
        h = rms_norm(x, P[p + "input_layernorm.weight"], eps)
        q = _split_heads(_lin(h, P, p + "self_attn.q_proj"), NH, HS)
        k = _split_heads(_lin(h, P, p + "self_attn.k_proj"), NKV, HS)
        if cfg["arch"] == "qwen3":  # RMSNorm over each head (last dim HS), before RoPE
            q = rms_norm(q, P[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, P[p + "self_attn.k_norm.weight"], eps)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        v = _split_heads(_lin(h, P, p + "self_attn.v_proj"), NKV, HS)
        # GQA: query head j reads kv head j // rep.
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        x = x + _lin(_merge_heads(causal_attention(q, k, v)), P, p + "self_attn.o_proj")
        h = rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        g = _lin(h, P, p + "mlp.gate_proj")
        u = _lin(h, P, p + "mlp.up_proj")
        x = x + _lin(g * torch.sigmoid(g) * u, P, p + "mlp.down_proj")
    x = rms_norm(x, P["model.norm.weight"], eps)
    head = P["model.embed_tokens.weight"] if cfg["tie"] else P["lm_head.weight"]
    return _wmm(x, head.t())


def loss_fn(logits, targets):
    """Mean cross-entropy over targets >= 0 (explicit log-sum-exp, no nn.CrossEntropyLoss)."""
    V = logits.shape[-1]
    lg = logits.reshape(-1, V)
    tg = targets.reshape(-1)
    keep = tg >= 0
    lse = torch.logsumexp(lg[keep], dim=-1)
    picked = lg[keep].gather(1, tg[keep].unsqueeze(1)).squeeze(1)
    return (lse - picked).mean()


def is_decayed_rule(name, shape):
    """The documented AdamW policy: decay 2-D weights (matrices, embeddings), not norms/biases."""
    return len(shape) >= 2


# ---- random model directories (self-tests without the C++ side) --------------------------------

def gpt2_hf_config(V, n_ctx, L, NH, C):
    return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": V,
            "n_positions": n_ctx, "n_ctx": n_ctx, "n_embd": C, "n_layer": L, "n_head": NH,
            "n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
            "tie_word_embeddings": True}


def llama_hf_config(V, n_ctx, L, NH, NKV, C, FF, tie, theta=10000.0):
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": V,
            "max_position_embeddings": n_ctx, "hidden_size": C, "intermediate_size": FF,
            "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV,
            "head_dim": C // NH, "rms_norm_eps": 1e-5, "rope_theta": theta, "hidden_act": "silu",
            "tie_word_embeddings": tie, "attention_bias": False, "mlp_bias": False}


def qwen3_hf_config(V, n_ctx, L, NH, NKV, C, HS, FF, tie, theta=1000000.0):
    return {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": V,
            "max_position_embeddings": n_ctx, "hidden_size": C, "intermediate_size": FF,
            "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV,
            "head_dim": HS, "rms_norm_eps": 1e-6, "rope_theta": theta, "hidden_act": "silu",
            "tie_word_embeddings": tie, "attention_bias": False, "use_sliding_window": False}


def write_random_model_dir(path, hf_cfg, seed=0, std=0.02):
    """Writes config.json + model.safetensors (F32) with random weights; norms near 1."""
    os.makedirs(path, exist_ok=True)
    cfg = parse_config(hf_cfg)
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, shape in expected_shapes(cfg).items():
        if len(shape) == 1 and ("ln" in name or "norm" in name) and name.endswith("weight"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1:
            t = 0.1 * torch.randn(shape, generator=g)
        else:
            t = std * 10 * torch.randn(shape, generator=g)  # larger than init: exercises more
        tensors[name] = t.float()
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(hf_cfg, f, indent=2)
    st_io.write(os.path.join(path, "model.safetensors"), tensors)
    return tensors

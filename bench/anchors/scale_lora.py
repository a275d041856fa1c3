#!/usr/bin/env python3
"""PyTorch anchor for bench/scale: the same LoRA training workload on the same checkpoint.

Plain torch (no transformers, no PEFT: neither is installable here), written as transformers'
eager modelling code computes: LLaMA / Qwen2 (RMSNorm, rotary half-split, grouped-query
attention, SwiGLU; Qwen2's q/k/v bias) and GPT-2 (LayerNorm, Conv1D, gelu_new), with PEFT's LoRA
Linear (y = base(x) + B(A(x)) * alpha / r, A kaiming-uniform, B zero) on the target modules,
base frozen, Adam on the LoRA weights, causal-LM loss (torch's CrossEntropyLoss over full logits,
as transformers does). Single thread. Optional gradient checkpointing per decoder layer
(torch.utils.checkpoint, as transformers' gradient_checkpointing_enable()).

  /usr/bin/python3 scale_lora.py <folder> --targets q_proj,v_proj [--checkpointing]
                                 [--batch 4] [--seq 128] [--steps 3] [--rank 16] [--alpha 32]

Prints one line: RESULT {json} with secondsPerStep (median of the timed steps; one warm-up step
first), tokensPerSecond, maxRssMB (this process's peak), losses.
"""
import argparse
import json
import math
import os
import resource
import statistics
import struct
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

# one thread unless the bench asks for more (SCALE_THREADS sets OMP_NUM_THREADS)
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
# Weights come from the file: skip the default initialisation of the frozen modules.
nn.Linear.reset_parameters = lambda self: None
nn.Embedding.reset_parameters = lambda self: None


class LoraLinear(nn.Module):
    """PEFT's LoRA Linear around a frozen base; `transpose` for GPT-2's Conv1D ([in, out] weight)."""

    def __init__(self, base, in_features, out_features, rank, alpha):
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / rank

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


class Conv1D(nn.Module):
    def __init__(self, nx, nf):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.empty(nf))

    def forward(self, x):
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(*x.shape[:-1], -1)


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(size))
        self.eps = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LlamaLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c["num_key_value_heads"]
        self.head_dim = h // self.heads
        bias = c["model_type"] == "qwen2"
        self.input_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.q_proj = nn.Linear(h, self.heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(h, h, bias=False)
        self.post_attention_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.gate_proj = nn.Linear(h, c["intermediate_size"], bias=False)
        self.up_proj = nn.Linear(h, c["intermediate_size"], bias=False)
        self.down_proj = nn.Linear(c["intermediate_size"], h, bias=False)

    def forward(self, hidden, bias, cos, sin):
        b, s, _ = hidden.shape
        x = self.input_layernorm(hidden)
        q = self.q_proj(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        groups = self.heads // self.kv_heads
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim) + bias
        probabilities = F.softmax(scores, dim=-1, dtype=torch.float32)
        context = torch.matmul(probabilities, v).transpose(1, 2).reshape(b, s, -1)
        hidden = hidden + self.o_proj(context)
        x = self.post_attention_layernorm(hidden)
        return hidden + self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        h = c["hidden_size"]
        self.embed_tokens = nn.Embedding(c["vocab_size"], h)
        self.layers = nn.ModuleList(LlamaLayer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(h, c["rms_norm_eps"])
        self.lm_head = None if c.get("tie_word_embeddings") else nn.Linear(h, c["vocab_size"], bias=False)
        head_dim = h // c["num_attention_heads"]
        self.inv_freq = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, head_dim, 2).float() / head_dim))

    def forward(self, ids, use_checkpointing):
        b, s = ids.shape
        hidden = self.embed_tokens(ids)
        freqs = torch.outer(torch.arange(s).float(), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        bias = torch.full((s, s), torch.finfo(torch.float32).min).triu(1)[None, None]
        for layer in self.layers:
            hidden = checkpoint(layer, hidden, bias, cos, sin, use_reentrant=False) if use_checkpointing else layer(hidden, bias, cos, sin)
        hidden = self.norm(hidden)
        weight = self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return F.linear(hidden, weight)

    def load(self, tensors):
        names = {"model.embed_tokens.weight": self.embed_tokens.weight, "model.norm.weight": self.norm.weight}
        if self.lm_head is not None:
            names["lm_head.weight"] = self.lm_head.weight
        for i, layer in enumerate(self.layers):
            p = f"model.layers.{i}"
            names[f"{p}.input_layernorm.weight"] = layer.input_layernorm.weight
            names[f"{p}.post_attention_layernorm.weight"] = layer.post_attention_layernorm.weight
            for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
                module = getattr(layer, proj)
                names[f"{p}.self_attn.{proj}.weight"] = module.weight
                if module.bias is not None:
                    names[f"{p}.self_attn.{proj}.bias"] = module.bias
            for proj in ("gate_proj", "up_proj", "down_proj"):
                names[f"{p}.mlp.{proj}.weight"] = getattr(layer, proj).weight
        tensors(names)


class GPT2Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        e = c["n_embd"]
        self.heads = c["n_head"]
        self.ln_1 = nn.LayerNorm(e, eps=c["layer_norm_epsilon"])
        self.c_attn = Conv1D(e, 3 * e)
        self.c_proj = Conv1D(e, e)
        self.ln_2 = nn.LayerNorm(e, eps=c["layer_norm_epsilon"])
        self.c_fc = Conv1D(e, 4 * e)
        self.mlp_c_proj = Conv1D(4 * e, e)

    def forward(self, hidden, bias):
        b, s, e = hidden.shape
        head_dim = e // self.heads
        q, k, v = self.c_attn(self.ln_1(hidden)).split(e, dim=2)
        q, k, v = (t.view(b, s, self.heads, head_dim).transpose(1, 2) for t in (q, k, v))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(head_dim) + bias
        context = torch.matmul(F.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, s, e)
        hidden = hidden + self.c_proj(context)
        x = self.c_fc(self.ln_2(hidden))
        x = 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
        return hidden + self.mlp_c_proj(x)


class GPT2(nn.Module):
    def __init__(self, c):
        super().__init__()
        e = c["n_embd"]
        self.wte = nn.Embedding(c["vocab_size"], e)
        self.wpe = nn.Embedding(c["n_positions"], e)
        self.h = nn.ModuleList(GPT2Layer(c) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(e, eps=c["layer_norm_epsilon"])

    def forward(self, ids, use_checkpointing):
        b, s = ids.shape
        hidden = self.wte(ids) + self.wpe(torch.arange(s))[None]
        bias = torch.full((s, s), torch.finfo(torch.float32).min).triu(1)[None, None]
        for layer in self.h:
            hidden = checkpoint(layer, hidden, bias, use_reentrant=False) if use_checkpointing else layer(hidden, bias)
        return F.linear(self.ln_f(hidden), self.wte.weight)

    def load(self, tensors):
        names = {"transformer.wte.weight": self.wte.weight, "transformer.wpe.weight": self.wpe.weight, "transformer.ln_f.weight": self.ln_f.weight, "transformer.ln_f.bias": self.ln_f.bias}
        for i, layer in enumerate(self.h):
            p = f"transformer.h.{i}"
            for ours, theirs in (("ln_1", "ln_1"), ("ln_2", "ln_2"), ("c_attn", "attn.c_attn"), ("c_proj", "attn.c_proj"), ("c_fc", "mlp.c_fc"), ("mlp_c_proj", "mlp.c_proj")):
                module = getattr(layer, ours)
                names[f"{p}.{theirs}.weight"] = module.weight
                names[f"{p}.{theirs}.bias"] = module.bias
        tensors(names)


def safetensors_reader(path):
    """Reads F32 tensors straight into the given parameters (no second copy of the checkpoint)."""

    def read(names):
        with open(path, "rb") as file:
            (length,) = struct.unpack("<Q", file.read(8))
            header = json.loads(file.read(length))
            for name, parameter in names.items():
                entry = header[name]
                assert entry["dtype"] == "F32", entry
                start, end = entry["data_offsets"]
                file.seek(8 + length + start)
                with torch.no_grad():
                    data = parameter.data
                    if list(data.shape) != entry["shape"]:
                        raise ValueError(f"{name}: checkpoint {entry['shape']}, module {list(data.shape)}")
                    file.readinto(memoryview(data.numpy()).cast("B"))

    return read


def add_lora(model, targets, rank, alpha):
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if child_name in targets:
                if isinstance(child, Conv1D):
                    in_features, out_features = child.weight.shape
                else:
                    out_features, in_features = child.weight.shape
                setattr(parent, child_name, LoraLinear(child, in_features, out_features, rank, alpha))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--targets", default="q_proj,v_proj")
    parser.add_argument("--checkpointing", action="store_true")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--alpha", type=int, default=32)
    args = parser.parse_args()
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "checkpointing": args.checkpointing, "batch": args.batch, "seq": args.seq}
    started = time.perf_counter()
    with open(f"{args.folder}/config.json") as file:
        config = json.load(file)
    model = GPT2(config) if config["model_type"] == "gpt2" else Llama(config)
    model.load(safetensors_reader(f"{args.folder}/model.safetensors"))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    torch.manual_seed(0)
    add_lora(model, set(args.targets.split(",")), args.rank, args.alpha)
    trainable = [p for p in model.parameters() if p.requires_grad]
    result["loadSeconds"] = time.perf_counter() - started
    result["trainableParameters"] = sum(p.numel() for p in trainable)
    vocab = config["vocab_size"]
    ids = torch.tensor([[(row * 7919 + index * 104729 + 11) % vocab for index in range(args.seq)] for row in range(args.batch)])
    optimizer = torch.optim.Adam(trainable, lr=1e-4)
    times, losses = [], []
    for step in range(args.steps + 1):
        begin = time.perf_counter()
        logits = model(ids, args.checkpointing)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), ids[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        del logits, loss
        if step > 0:
            times.append(time.perf_counter() - begin)
    result["secondsPerStep"] = statistics.median(times)
    result["stepSeconds"] = times
    result["tokensPerSecond"] = args.batch * args.seq / result["secondsPerStep"]
    result["losses"] = losses
    result["ok"] = True
    result["maxRssMB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["totalSeconds"] = time.perf_counter() - started
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

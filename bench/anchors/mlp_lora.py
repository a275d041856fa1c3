#!/usr/bin/env python3
"""PyTorch anchor for bench/native.bench.ts: the same workload, timed the same way.

4 x Linear(512->512) with bias, ReLU between, batch 64, MSE loss, Adam(lr 1e-3):
- full fine-tuning step,
- LoRA r=8 (alpha 16, no dropout) on all four layers, base frozen (a plain LoRA module, as PEFT's
  Linear: y = base(x) + lora_B(lora_A(x)) * alpha/r),
- inference (no_grad): the base model vs the LoRA model unmerged.
Runs single-threaded (torch.set_num_threads(1); the caller sets OPENBLAS_NUM_THREADS=1).

  python3 mlp_lora.py [repetitions]   interleaved rounds (one run of each case per round), then one
                                      JSON object: {"torch", "threads", "cases": {name: {"medianMs",
                                      "minMs", "maxMs", "runs"}}}
  python3 mlp_lora.py --serve         prints {"ready": [case names]}, then for every case name read
                                      from stdin runs it once and prints its time in ms, so that the
                                      Node benchmark can interleave these runs with its own rounds
"""
import json
import statistics
import sys
import time

import torch
from torch import nn

WIDTH, LAYERS, BATCH, RANK, ALPHA = 512, 4, 64, 8, 16


class LoraLinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int, alpha: int):
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=5**0.5)
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / rank

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


def mlp(lora: bool, random_b: bool = False) -> nn.Module:
    layers = []
    for index in range(LAYERS):
        linear = nn.Linear(WIDTH, WIDTH)
        if lora:
            linear.requires_grad_(False)
            linear = LoraLinear(linear, RANK, ALPHA)
            if random_b:
                nn.init.normal_(linear.lora_B.weight, std=0.02)
        layers.append(linear)
        if index < LAYERS - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def main() -> None:
    serve = len(sys.argv) > 1 and sys.argv[1] == "--serve"
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 and not serve else 50
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(BATCH, WIDTH)
    y = torch.randn(BATCH, WIDTH)

    def stepper(model: nn.Module):
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        loss_fn = nn.MSELoss()

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            loss.item()

        return step

    def inferer(model: nn.Module):
        def infer():
            with torch.no_grad():
                model(x).sum().item()

        return infer

    cases = {
        "full step": stepper(mlp(False)),
        "lora step": stepper(mlp(True)),
        "inference, base": inferer(mlp(False)),
        "inference, lora unmerged": inferer(mlp(True, random_b=True)),
    }
    if serve:
        print(json.dumps({"ready": list(cases), "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
        for line in sys.stdin:
            name = line.strip()
            if not name:
                continue
            start = time.perf_counter()
            cases[name]()
            print((time.perf_counter() - start) * 1000, flush=True)
        return
    for run in cases.values():
        for _ in range(5):
            run()
    samples = {name: [] for name in cases}
    for _ in range(repetitions):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            samples[name].append((time.perf_counter() - start) * 1000)
    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cases": {
            name: {"medianMs": statistics.median(values), "minMs": min(values), "maxMs": max(values), "runs": len(values)}
            for name, values in samples.items()
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

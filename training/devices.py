"""Where a training run computes: the process group under torchrun, the device and its threads,
and mixed precision."""
from __future__ import annotations

import os

import torch

from hppnet_plugin.inference import autocast_dtype, choose_device


def distributed() -> tuple:
    """(rank, world size, torch.distributed or None): a process group when torchrun started us."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, None
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size(), dist


def training_device(name: str, threads: int, world: int) -> torch.device:
    """The device ``name`` names (auto: CUDA, MPS, CPU); each torchrun process takes its own GPU,
    and on the CPU the cores are shared among the processes unless ``threads`` says otherwise."""
    device = choose_device(name)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if device.type == "cpu":
        torch.set_num_threads(threads or max(1, (os.cpu_count() or 1) // world))
    return device


def mixed_precision(device, amp: str) -> tuple:
    """(enabled, dtype) of mixed precision: the runtime's choice (inference.autocast_dtype:
    CPU bf16 where oneDNN has native bf16 -- measured 2.8x faster per step for tiny on a
    2-core EPYC, and tiny learned its onsets in it; CUDA fp32, because under CUDA bf16
    autocast the onset head never left its prior), or fp32 with --amp off."""
    dtype = autocast_dtype(device, "auto") if amp == "auto" else None
    return dtype is not None, dtype or torch.float32

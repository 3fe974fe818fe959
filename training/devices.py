"""Where a training run computes: the process group under torchrun, the device and its threads,
and mixed precision."""
from __future__ import annotations

import os

import torch

from hppnet_plugin.inference import choose_device
from hppnet_plugin.cpu import cpu_has_native_bf16


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
    """(enabled, dtype) of mixed precision: with --amp auto, bf16 autocast on CPUs with native
    bf16, where a training step is faster in bf16 even when a bf16 GEMM alone is not (base on a
    2-core Xeon: 19.3 s against 26.6 s in fp32; tiny on a 2-core EPYC 2.8x) and tiny learned its
    onsets in it; fp32 on CUDA, where under bf16 autocast the onset head never left its prior,
    and on MPS; fp32 with --amp off."""
    if amp != "auto" or device.type != "cpu" or not cpu_has_native_bf16():
        return False, torch.float32
    return True, torch.bfloat16

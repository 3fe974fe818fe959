"""Weight files: the shipped table, sha256 verification, weights-only loading.

A weight file is a ``torch.save`` of ``{"format": ..., "config": dict,
"state_dict": {name: tensor}}`` (fp32 or fp16 tensors, paper's 8-branch HD-Conv
layout), read with ``torch.load(weights_only=True)``. Shipped files have a JSON
sidecar ``<name>.json`` whose ``sha256`` must match. Training checkpoints
(``last.pt``/``best.pt``, holding ``config`` + ``model``) load too.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

WEIGHTS_DIR = Path(__file__).with_name("weights")
WEIGHTS_FORMAT = "hppnet-plugin-weights/1"
SHIPPED = {"hppnet-sp": "hppnet-sp.pt", "hppnet-base": "hppnet-base.pt", "hppnet-tiny": "hppnet-tiny.pt"}


def best_shipped_name(preference=("hppnet-sp", "hppnet-base", "hppnet-tiny")) -> str:
    """The first name in ``preference`` whose weights ship in this installation."""
    for name in preference:
        if (WEIGHTS_DIR / SHIPPED[name]).exists():
            return name
    return preference[0]


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecar_path(path) -> Path:
    path = Path(path)
    return path.with_suffix(".json")


def shipped_weights_path(name: str) -> Path:
    """The packaged weight file of ``name``; a clear error when it is not shipped."""
    if name not in SHIPPED:
        raise ValueError(f"no shipped weights for {name!r}; shipped names: {sorted(SHIPPED)}")
    path = WEIGHTS_DIR / SHIPPED[name]
    if not path.exists():
        raise FileNotFoundError(
            f"the weights of {name} are not in this installation ({path} is missing). "
            f"Train and export them with `python -m hppnet_plugin.training train ... && "
            f"python -m hppnet_plugin.training export ...`, then pass checkpoint=PATH "
            f"(CLI: --checkpoint PATH), or install a release of hppnet-plugin that ships them.")
    return path


def read_sidecar(path) -> dict:
    side = sidecar_path(path)
    if not side.exists():
        return {}
    try:
        return json.loads(side.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"weights sidecar {side} is not valid JSON: {error}") from error


def verify_sha256(path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise ValueError(f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}. "
                         "The file is corrupt or was replaced; reinstall or re-export it.")


def read_weight_file(path, require_sidecar: bool = False) -> dict:
    """The whole content of a weight file or training checkpoint, loaded weights-only.

    The sha256 in the sidecar is verified when a sidecar exists (and required for shipped
    weights). Unpickling anything but tensors and plain types could run code from the file, so
    nothing else loads: training checkpoints hold only such types too (RNG states included).
    """
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    meta = read_sidecar(path)
    if require_sidecar and "sha256" not in meta:
        raise ValueError(f"{path} has no sidecar {sidecar_path(path).name} with its sha256; refusing to load it")
    if "sha256" in meta:
        verify_sha256(path, meta["sha256"])
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        with open(path, "rb") as f:
            magic = f.read(4)
        if not (magic.startswith(b"PK") or magic[:1] == b"\x80"):  # neither torch's zip nor a pickle
            raise ValueError(f"{path} is not a readable PyTorch weight file ({type(error).__name__})") from None
        reason = str(error).strip().split(". ")[0] or type(error).__name__
        raise ValueError(f"{path} is not a weight file that loads safely (weights-only) and was not loaded: "
                         f"{reason}") from None
    if not isinstance(data, dict) or "config" not in data or not ({"state_dict", "model"} & set(data)):
        raise ValueError(f"{path} is not an hppnet-plugin weight file (expected keys 'config' and "
                         "'state_dict'); export training checkpoints with `python -m hppnet_plugin.training export`")
    return data


def load_weights(path, require_sidecar: bool = False):
    """Read a weight file or training checkpoint -> (config dict, state_dict). A checkpoint that
    keeps a moving average of its weights gives the average: what its validation scored."""
    data = read_weight_file(path, require_sidecar)
    return data["config"], data.get("state_dict", data.get("ema", data.get("model")))


def build_model(config_dict, state_dict, source="checkpoint"):
    """HPPNet from a config dict + state dict, with a readable error on a mismatch."""
    from .config import HPPNetConfig
    from .model import HPPNet

    config = HPPNetConfig.from_dict(config_dict)
    model = HPPNet(config)
    state_dict = {k: v.float() for k, v in state_dict.items()}
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[1:3]
        raise ValueError(f"{source} does not fit an HPPNet-{config.variant} with E={config.channels}: "
                         f"{' '.join(s.strip() for s in first)}") from None
    model.eval()
    return model

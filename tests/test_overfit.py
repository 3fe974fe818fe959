"""Labels, losses, model and decoding agree: hppnet-tiny overfits one fixed clip."""
import numpy as np
import torch

from hppnet_plugin.config import HPPNetConfig
from hppnet_plugin.decoding import decode_rolls
from hppnet_plugin.frontend import LogCQT
from hppnet_plugin.model import HPPNet
from hppnet_plugin.notes import Note
from hppnet_plugin.training.data import collate
from hppnet_plugin.training.labels import notes_to_rolls
from hppnet_plugin.training.losses import hppnet_losses
from hppnet_plugin.training.metrics import transcription_metrics

from .conftest import piano_like_tone

NOTES = [Note(0.1, 0.6, 48, 90), Note(0.1, 0.6, 52, 90), Note(0.1, 0.6, 55, 90),
         Note(0.7, 1.3, 60, 60), Note(0.7, 1.3, 67, 110), Note(1.0, 1.4, 72, 40)]


def test_tiny_overfits_a_fixed_batch():
    torch.manual_seed(0)
    audio = sum(piano_like_tone(n.pitch, n.end - n.start, start_s=n.start, total_s=1.5) * n.velocity / 100
                for n in NOTES).astype(np.float32)
    config = HPPNetConfig.for_variant("tiny")
    features = LogCQT(config)(torch.from_numpy(audio))[0, 0].numpy()
    batch = collate([{"features": features, **notes_to_rolls(NOTES, len(features))}])
    model = HPPNet(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        loss = hppnet_losses(model(batch["features"]), batch)["total"]
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    assert loss.item() < first / 20
    with torch.no_grad():
        probs = {k: torch.sigmoid(v)[0].numpy() for k, v in model(batch["features"]).items()}
    notes = decode_rolls(probs["onset"], probs["frame"], probs["velocity"])
    scores = transcription_metrics(NOTES, notes)
    assert scores["note"][2] == 1.0, notes
    assert scores["frame"][2] > 0.9

"""A piano-roll picture: notes drawn over the onset/frame probabilities."""
from __future__ import annotations

from . import constants as C


def plot_transcription(result, file, max_seconds: float = 600.0):
    """Write a PNG of ``result`` (needs its rolls for the background) to a file object."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("--plot needs matplotlib: pip install 'hppnet-plugin[plot]'") from error
    import numpy as np

    duration = min(max(result.duration, 1.0), max_seconds)
    fig, ax = plt.subplots(figsize=(min(4 + duration / 2, 40), 6), dpi=100)
    fps = result.frames_per_second
    if result.rolls and result.rolls.get("frame") is not None:
        frame = result.rolls["frame"][: int(duration * fps)]
        onset = result.rolls["onset"][: int(duration * fps)]
        image = np.stack([onset, frame * 0.6, frame * 0.3], -1).clip(0, 1).transpose(1, 0, 2)
        ax.imshow(1 - image, origin="lower", aspect="auto", interpolation="nearest",
                  extent=(0, len(frame) / fps, C.MIN_PITCH - 0.5, C.MAX_PITCH + 0.5))
    for n in result.notes:
        if n.start > duration:
            break
        ax.add_patch(plt.Rectangle((n.start, n.pitch - 0.4), n.duration, 0.8, fill=False,
                                   edgecolor=plt.cm.viridis(n.velocity / 127), linewidth=1))
    ax.set_xlim(0, duration)
    ax.set_ylim(C.MIN_PITCH - 0.5, C.MAX_PITCH + 0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(f"{result.transcriber}: {len(result.notes)} notes (boxes) over onset (red) / frame (grey) probability")
    fig.tight_layout()
    fig.savefig(file, format="png")
    plt.close(fig)

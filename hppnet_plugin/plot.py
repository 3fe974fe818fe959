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
    # At least 8 inches wide so the title, legend and colour bar fit on short files.
    fig, ax = plt.subplots(figsize=(min(8 + duration / 2, 40), 6), dpi=100)
    fps = result.frames_per_second
    if result.rolls and result.rolls.get("frame") is not None:
        frame = result.rolls["frame"][: int(duration * fps)].T
        onset = result.rolls["onset"][: int(duration * fps)].T
        # White background; frame probability darkens to grey, onset probability turns red.
        grey = 1 - 0.55 * frame
        image = np.stack([grey, grey - 0.8 * onset, grey - 0.8 * onset], -1).clip(0, 1)
        ax.imshow(image, origin="lower", aspect="auto", interpolation="nearest",
                  extent=(0, frame.shape[1] / fps, C.MIN_PITCH - 0.5, C.MAX_PITCH + 0.5))
    velocity_colours = plt.cm.viridis
    for n in result.notes:
        if n.start > duration:
            break
        ax.add_patch(plt.Rectangle((n.start, n.pitch - 0.4), n.duration, 0.8, fill=False,
                                   edgecolor=velocity_colours(n.velocity / 127), linewidth=1))
    ax.set_xlim(0, duration)
    ax.set_ylim(C.MIN_PITCH - 0.5, C.MAX_PITCH + 0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(f"{result.transcriber}: {len(result.notes)} notes")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(facecolor=(0.45, 0.45, 0.45), label="frame probability"),
                       Patch(facecolor=(0.9, 0.1, 0.1), label="onset probability"),
                       Patch(fill=False, edgecolor=velocity_colours(0.7), label="note (colour: velocity)")],
              loc="upper right", fontsize="small", framealpha=0.9)
    scale = plt.cm.ScalarMappable(cmap=velocity_colours, norm=plt.Normalize(0, 127))
    fig.colorbar(scale, ax=ax, pad=0.01, fraction=0.03).set_label("velocity")
    fig.tight_layout()
    fig.savefig(file, format="png")
    plt.close(fig)

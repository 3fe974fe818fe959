"""A piano-roll picture for musicians: rows of 30 s, note names at every C with the black keys
shaded, notes filled in a velocity colour over the onset/frame probabilities, and the file
name in the title. Files longer than ``max_seconds`` (default 10 minutes, 20 rows) are drawn up
to there, and the title says so."""
from __future__ import annotations

from . import constants as C

ROW_SECONDS = 30.0
BLACK_KEYS = {1, 3, 6, 8, 10}  # pitch classes of the black keys
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(pitch: int) -> str:
    """MIDI 60 -> "C4"."""
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def pitch_range(notes) -> tuple:
    """Lowest and highest key drawn: the notes' range widened to whole octaves (C to B), at
    least two octaves, within A0-C8."""
    if not notes:
        return C.MIN_PITCH, C.MAX_PITCH
    lo = max(C.MIN_PITCH, (min(n.pitch for n in notes) // 12) * 12)
    hi = min(C.MAX_PITCH, (max(n.pitch for n in notes) // 12) * 12 + 11)
    while hi - lo < 23:
        lo, hi = max(C.MIN_PITCH, lo - 12), min(C.MAX_PITCH, hi + 12)
        if lo == C.MIN_PITCH and hi == C.MAX_PITCH:
            break
    return lo, hi


def _keyboard(ax, lo: int, hi: int):
    for p in range(lo, hi + 1):  # black keys as grey bands, like a keyboard turned sideways
        if p % 12 in BLACK_KEYS:
            ax.axhspan(p - 0.5, p + 0.5, color="0.93", zorder=0, linewidth=0)
        if p % 12 == 0:
            ax.axhline(p - 0.5, color="0.6", linewidth=0.6, zorder=1)


def _rolls_background(ax, rolls: dict, fps: float, t0: float, t1: float, lo: int, hi: int):
    import numpy as np

    a, b = int(t0 * fps), int(t1 * fps)
    frame = rolls["frame"][a:b, lo - C.MIN_PITCH:hi - C.MIN_PITCH + 1].T
    onset = rolls["onset"][a:b, lo - C.MIN_PITCH:hi - C.MIN_PITCH + 1].T
    shade = np.zeros(frame.shape + (4,))
    shade[..., :3] = np.stack([0.1 + 0.8 * onset, 0.1 * np.ones_like(onset), 0.1 * np.ones_like(onset)], -1)
    shade[..., 3] = np.clip(0.35 * frame + 0.6 * onset, 0, 0.8)  # grey where held, red where struck
    ax.imshow(shade, origin="lower", aspect="auto", interpolation="nearest", zorder=2,
              extent=(a / fps, a / fps + frame.shape[1] / fps, lo - 0.5, hi + 0.5))


def _draw_row(plt, ax, result, rolls, t0: float, t1: float, row_len: float, lo: int, hi: int, colour):
    """One row of the piano roll: keyboard bands, the rolls (if any) and the notes from t0 to t1."""
    _keyboard(ax, lo, hi)
    if rolls is not None:
        _rolls_background(ax, rolls, result.frames_per_second, t0, t1, lo, hi)
    for n in result.notes:
        if n.end < t0 or n.start > t1:
            continue
        ax.add_patch(plt.Rectangle((n.start, n.pitch - 0.42), n.duration, 0.84, facecolor=colour(n.velocity),
                                   edgecolor="black", linewidth=0.4, zorder=3))
    ax.set_xlim(t0, t0 + row_len)
    ax.set_ylim(lo - 0.5, hi + 0.5)
    octaves = [p for p in range(lo, hi + 1) if p % 12 == 0]
    ax.set_yticks(octaves, [note_name(p) for p in octaves], fontsize=8)
    ax.tick_params(axis="x", labelsize=8)


def plot_transcription(result, file, max_seconds: float = 600.0, title: str = None):
    """Write a PNG of ``result`` (its rolls, when present, are the background) to a file object."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("--plot needs matplotlib: pip install 'hppnet-plugin[plot]'") from error
    import numpy as np

    duration = min(max(result.duration, 1.0), max_seconds)
    rows = int(np.ceil(duration / ROW_SECONDS))
    row_len = min(ROW_SECONDS, duration)
    lo, hi = pitch_range(result.notes)
    height = max(1.6, 0.045 * (hi - lo + 1) + 0.5)
    fig, axes = plt.subplots(rows, 1, figsize=(14, 0.9 + height * rows), dpi=100, squeeze=False,
                             layout="constrained")
    colours, norm = plt.cm.plasma, plt.Normalize(1, 127)
    rolls = result.rolls if result.rolls and result.rolls.get("frame") is not None else None
    for r, ax in enumerate(axes[:, 0]):
        _draw_row(plt, ax, result, rolls, r * row_len, min((r + 1) * row_len, duration), row_len, lo, hi,
                  lambda velocity: colours(norm(velocity)))
    axes[-1, 0].set_xlabel("time (s)")
    name = title if title is not None else result.metadata.get("input", "") if result.metadata else ""
    clock = lambda seconds: f"{int(seconds // 60)}:{int(seconds % 60):02d}"  # noqa: E731
    cut = f", the first {clock(max_seconds)} of {clock(result.duration)}" if result.duration > max_seconds else ""
    fig.suptitle(f"{name + ' - ' if name else ''}{result.transcriber or 'transcription'}: "
                 f"{len(result.notes)} notes{cut}", fontsize=11)
    scale = plt.cm.ScalarMappable(cmap=colours, norm=norm)
    bar = fig.colorbar(scale, ax=axes[:, 0].tolist(), pad=0.01, fraction=0.02, aspect=20, shrink=min(1.0, 3.0 / rows))
    bar.set_label("velocity (note colour)")
    if rolls is not None:
        from matplotlib.patches import Patch

        axes[0, 0].legend(handles=[Patch(facecolor=(0.1, 0.1, 0.1, 0.35), label="key held (frame probability)"),
                                   Patch(facecolor=(0.9, 0.1, 0.1, 0.6), label="key struck (onset probability)")],
                          loc="upper right", fontsize="x-small", framealpha=0.9)
    fig.savefig(file, format="png", bbox_inches="tight")
    plt.close(fig)

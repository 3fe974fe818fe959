"""Fixed numbers of the HPPNet pipeline, each with its unit.

Everything that a checkpoint may change lives in :mod:`hppnet_plugin.config`;
what is here is the contract between audio, labels, decoding and evaluation.
"""

SAMPLE_RATE = 16_000
"""Model input sample rate, Hz."""

HOP_LENGTH = 320
"""CQT hop, samples (20 ms)."""

FRAMES_PER_SECOND = SAMPLE_RATE / HOP_LENGTH
"""50 frames per second."""

MIN_PITCH = 21
"""MIDI pitch of A0, the lowest piano key."""

MAX_PITCH = 108
"""MIDI pitch of C8, the highest piano key."""

N_KEYS = MAX_PITCH - MIN_PITCH + 1
"""88 keys."""

BINS_PER_OCTAVE = 48
N_BINS = 352
"""CQT bins: 88 keys x 4 bins per semitone."""

CQT_FMIN_HZ = 27.5 / 2 ** (1 / 24)
"""Lowest CQT bin, Hz (about 26.72): half a semitone below A0 so that after 4:1
frequency pooling each group of 4 bins is centred on its key (authors' code;
the paper text says 27.5 Hz)."""

LOG_FLOOR_DB = -80.0
"""Log-CQT floor, dB re. amplitude 1.0 (a fixed reference: features of a chunk
do not depend on the loudest sample of that chunk)."""

ONSET_THRESHOLD = 0.4
FRAME_THRESHOLD = 0.4
"""Decoding thresholds on sigmoid probabilities (paper)."""

MIN_NOTE_MS = 0.0
"""Notes shorter than this are dropped by decoding (0: keep every note, the paper's rule).
Weight files may store a calibrated value (``export --calibrate``)."""

SUSTAIN_CC = 64
SUSTAIN_DOWN_MIN_VALUE = 64
"""A CC64 value >= this means the sustain pedal is down."""

ENTRY_POINT_GROUP = "hppnet_plugin.transcribers"
"""The entry-point group through which distributions register transcribers."""

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
"""Model arithmetic choices (inference.autocast_dtype): auto = bf16 on CPUs where it is native and
measured faster than fp32, else fp32."""

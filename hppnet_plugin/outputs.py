"""Where transcriptions go and in what form: the output formats, their file names, and writing
them (atomically) to a local folder or a filesystem URL."""
from __future__ import annotations

from pathlib import Path

FORMATS = ("mid", "csv", "ns", "npz")
OUTPUT_NAMES = {"mid": "{stem}.mid", "csv": "{stem}.csv", "ns": "{stem}.ns.pb",
                "npz": "{stem}.rolls.npz", "png": "{stem}.png"}


def is_url(location) -> bool:
    return "://" in str(location)


def check_request(formats, overwrite: bool = False, skip_existing: bool = False) -> list:
    """The requested formats as a list, or a ValueError saying what is wrong with the request."""
    formats = [formats] if isinstance(formats, str) else list(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"unknown format(s) {bad}; choose from {', '.join(FORMATS)}")
    if overwrite and skip_existing:
        raise ValueError("--overwrite and --skip-existing (overwrite and skip_existing) contradict each other; "
                         "choose one")
    return formats


class _UrlFolder:
    """Outputs on a filesystem that pyarrow (s3://, gs://, hdfs://, file://) or fsspec reaches."""

    def __init__(self, url: str):
        try:
            import pyarrow.fs as pafs
        except ImportError:
            raise ImportError(f"writing to {url} needs pyarrow: pip install 'hppnet-plugin[ray]' "
                              "(from a checkout: pip install '.[ray]')") from None
        try:
            self.fs, _ = pafs.FileSystem.from_uri(url)
        except Exception as arrow_error:
            try:
                import fsspec

                self.fs = pafs.PyFileSystem(pafs.FSSpecHandler(fsspec.core.url_to_fs(url)[0]))
            except Exception as error:
                raise ValueError(f"cannot open {url}: pyarrow says {arrow_error}; fsspec says {error}") from None
        self.local = isinstance(self.fs, pafs.LocalFileSystem)

    @staticmethod
    def _path(url: str) -> str:
        scheme, rest = url.split("://", 1)
        return "/" + rest.lstrip("/") if scheme == "file" else rest

    def exists(self, url: str) -> bool:
        import pyarrow.fs as pafs

        return self.fs.get_file_info(self._path(url)).type != pafs.FileType.NotFound

    def write(self, url: str, data: bytes, overwrite: bool):
        if not overwrite and self.exists(url):
            raise FileExistsError(f"{url} exists; pass --overwrite to replace it")
        path = self._path(url)
        self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        if self.local:  # file://: the same atomic write as a plain path
            from .io import atomic_write

            atomic_write(path, lambda f: f.write(data), overwrite=overwrite)
        else:  # object stores publish an object on close, whole or not at all
            with self.fs.open_output_stream(path) as f:
                f.write(data)


_url_folders: dict = {}


def _url_folder(url: str) -> _UrlFolder:
    key = url.split("://", 1)[0] + "://" + url.split("://", 1)[1].split("/", 1)[0]
    if key not in _url_folders:
        _url_folders[key] = _UrlFolder(url)
    return _url_folders[key]


def output_exists(target: str) -> bool:
    return _url_folder(target).exists(target) if is_url(target) else Path(target).exists()


def render_output(result, fmt: str) -> bytes:
    """The bytes of one output format of a Transcription."""
    import io

    if fmt == "mid":
        from .adapters.pretty_midi import notes_to_pretty_midi

        buffer = io.BytesIO()
        notes_to_pretty_midi(result.notes).write(buffer)
        return buffer.getvalue()
    if fmt == "csv":
        from .adapters.csv import notes_to_csv_text

        return notes_to_csv_text(result.notes).encode()
    if fmt == "ns":
        return result.to_note_sequence().SerializeToString()
    if fmt == "npz":
        import numpy as np

        buffer = io.BytesIO()
        np.savez_compressed(buffer, frames_per_second=result.frames_per_second,
                            **{k: v for k, v in (result.rolls or {}).items() if v is not None})
        return buffer.getvalue()
    if fmt == "png":
        from .plot import plot_transcription

        buffer = io.BytesIO()
        plot_transcription(result, buffer)
        return buffer.getvalue()
    raise ValueError(f"unknown output format {fmt!r}; choose from {', '.join(FORMATS)} (or png)")


def write_outputs(result, outputs: dict, overwrite: bool = False, keep_existing: bool = False) -> list:
    """Write every output (atomically where the filesystem allows); with ``keep_existing``,
    outputs already there (whole: they were written atomically) are kept. Returns the
    targets written."""
    from .io import atomic_write

    written = []
    for fmt, target in outputs.items():
        if keep_existing and output_exists(target):
            continue
        data = render_output(result, fmt)
        if is_url(target):
            _url_folder(target).write(target, data, overwrite)
        else:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, lambda f: f.write(data), overwrite=overwrite)
        written.append(target)
    return written

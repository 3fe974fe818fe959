import json
import subprocess
import sys


def test_import_is_light_and_fast():
    """`import hppnet_plugin` must not pull in torch, TensorFlow, note_seq or nnAudio."""
    code = ("import sys, time, json; t = time.perf_counter(); import hppnet_plugin; "
            "dt = time.perf_counter() - t; heavy = [m for m in ('torch', 'tensorflow', 'note_seq', 'nnAudio', "
            "'basic_pitch', 'pretty_midi') if m in sys.modules]; print(json.dumps([dt, heavy]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, heavy = json.loads(out.stdout)
    assert heavy == []
    assert seconds < 1.0, f"import took {seconds:.2f} s"


def test_public_api():
    import hppnet_plugin

    from hppnet_plugin.notes import Note
    from hppnet_plugin.registry import available_transcribers, load_transcriber, register_transcriber
    from hppnet_plugin.transcription import Transcription

    assert (hppnet_plugin.load_transcriber, hppnet_plugin.available_transcribers, hppnet_plugin.register_transcriber,
            hppnet_plugin.Note, hppnet_plugin.Transcription) == (load_transcriber, available_transcribers,
                                                                 register_transcriber, Note, Transcription)
    assert {"hppnet-tiny", "hppnet-base", "hppnet-sp", "basic-pitch"} <= set(hppnet_plugin.available_transcribers())
    note = hppnet_plugin.Note(0.5, 1.0, 60, 80)
    assert (note.start, note.end, note.pitch, note.velocity) == (0.5, 1.0, 60, 80)
    assert set(hppnet_plugin.__all__) >= {"load_transcriber", "available_transcribers", "register_transcriber",
                                          "Note", "Transcription", "__version__"}


def _imports(path):
    """Absolute module names a source file imports (relative imports resolved)."""
    import ast
    from pathlib import Path

    path = Path(path)
    package = {"adapters": "hppnet_plugin.adapters", "training": "hppnet_plugin.training"}.get(
        path.parent.name, "hppnet_plugin")
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            names.add(module)
            names |= {f"{module}.{a.name}" for a in node.names}
    return names


def test_one_way_flow_between_runtime_adapters_and_training():
    """adapters/ converts notes: it imports the note record (and io), never the runtime above it
    (transcribers, registry, batch, CLI) or training; notes.py imports no adapter; the runtime
    never imports training."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    above = ("hppnet_plugin.transcription", "hppnet_plugin.transcriber", "hppnet_plugin.registry",
             "hppnet_plugin.batch", "hppnet_plugin.jobs", "hppnet_plugin.outputs", "hppnet_plugin.ray_batch", "hppnet_plugin.cli", "hppnet_plugin.basic_pitch",
             "hppnet_plugin.inference", "hppnet_plugin.training")
    for source in sorted((root / "adapters").glob("*.py")):
        wrong = sorted(m for m in _imports(source) if m.startswith(above))
        assert not wrong, f"{source.name} imports {wrong}"
    assert not [m for m in _imports(root / "hppnet_plugin" / "notes.py") if "adapters" in m]
    for source in sorted((root / "hppnet_plugin").glob("*.py")):
        assert not [m for m in _imports(source) if m.startswith("hppnet_plugin.training")], source.name


def _module_graph():
    """{module file: module files it imports, at the top or inside a function}; importing a
    package's ``__init__`` is not counted (every module of the package runs it)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    homes = {"hppnet_plugin.adapters": root / "adapters", "hppnet_plugin.training": root / "training",
             "hppnet_plugin": root / "hppnet_plugin"}
    files = sorted(p for folder in homes.values() for p in folder.glob("*.py") if p.name != "__init__.py")

    def file_of(module):
        for package, folder in homes.items():
            if module.startswith(package + "."):
                candidate = folder / (module[len(package) + 1:].split(".")[0] + ".py")
                return candidate if candidate in files else None
        return None

    return {f: {file_of(m) for m in _imports(f)} - {None, f} for f in files}


def test_no_import_cycles():
    graph = _module_graph()
    # Tarjan's strongly connected components: any with two or more modules is a cycle.
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(f"{p.parent.name}/{p.name}" for p in component))

    for node in graph:
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"

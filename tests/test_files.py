"""Model files: saves never lose the previous file, loads refuse anything but a valid model.

A save writes a temporary file in the same folder and renames it over the target, so a process
killed at any moment leaves either the old file or the new one. A load reads JSON only (no pickle,
no eval), checks everything before the model changes, and stays in proportion to the file's size
in time and memory whatever the file holds.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

import nn

REPO = Path(__file__).resolve().parent.parent
SIZES = (32, [128, 128, 8])  # 21,768 parameters: about 0.5 MB of JSON, long enough to be killed mid-write


def snapshot(model: nn.Module) -> list[float]:
    return [p.data for p in model.parameters()]


def filled(value: float) -> nn.MLP:
    """The big model with every parameter equal to `value`: a file from one save is uniform."""
    model = nn.MLP(SIZES[0], SIZES[1], seed=0)
    for p in model.parameters():
        p.data = value
    return model


# The child saves the big model, each time with every parameter set to the save's number, and says
# so on stdout just before each save. With "stall" it hangs halfway through writing the first save.
CHILD = textwrap.dedent(
    """
    import os, sys, time
    import nn

    path, mode = sys.argv[1], sys.argv[2]
    model = nn.MLP(32, [128, 128, 8], seed=0)
    if mode == "stall":  # the save's writer puts half the text in the file, then hangs
        import pathlib

        real_write_text = pathlib.Path.write_text

        def half_then_hang(self, text, *args, **kwargs):
            real_write_text(self, text[: len(text) // 2], *args, **kwargs)
            print("half written", flush=True)
            time.sleep(60)

        pathlib.Path.write_text = half_then_hang
    k = 2
    while True:
        for p in model.parameters():
            p.data = float(k)
        print(k, flush=True)
        model.save(path)
        k += 1
    """
)


def start_child(path: Path, mode: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), mode], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
    )


def kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.stdout is not None
    child.stdout.close()


def uniform_value(path: Path) -> float:
    """Load the file as a model; every parameter must be the same number (one save, not a mix)."""
    values = {p.data for p in nn.load_model(path).parameters()}
    assert len(values) == 1, f"the file mixes saves: {sorted(values)[:5]}"
    return values.pop()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX) to kill a process mid-write")
def test_killed_in_the_middle_of_writing_the_previous_file_is_intact(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    filled(1.0).save(path)
    before = path.read_bytes()
    child = start_child(path, "stall")
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "2"
        assert child.stdout.readline().strip() == "half written"
    finally:
        kill(child)
    # The killed save left its half-written temporary file behind, under a name no load would pick...
    temps = [p for p in tmp_path.iterdir() if p != path]
    assert len(temps) == 1 and temps[0].name.startswith(".tmp-")
    with pytest.raises(ValueError, match="not a valid model file"):
        nn.load_model(temps[0])
    # ...and the file itself is exactly the previous save, and loads.
    assert path.read_bytes() == before
    assert uniform_value(path) == 1.0


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX) to kill a process mid-write")
def test_killed_while_saving_in_a_loop_the_file_is_always_one_whole_save(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    filled(1.0).save(path)
    for after in (3, 5, 8):  # kill at different points of the loop
        child = start_child(path, "loop")
        try:
            assert child.stdout is not None
            last = 0
            for _ in range(after):
                last = int(child.stdout.readline())
        finally:
            kill(child)
        # the file is one complete save: the one before, or one the child had started by then
        assert uniform_value(path) in {1.0, *map(float, range(2, last + 1))}


# ---- loads that must fail cleanly ------------------------------------------------------------------
def good_document() -> dict:
    return json.loads(json.dumps({"format": "chainrule-model", "version": 1, **_parts()}))


def _parts() -> dict:
    model = nn.MLP(2, [2, 1], seed=0)
    return {"model": model.config(), "state_dict": model.state_dict()}


def with_text(old: str, new: str) -> Callable[[], bytes]:
    def make() -> bytes:
        text = json.dumps(good_document())
        assert old in text
        return text.replace(old, new, 1).encode()

    return make


def edited(fn: Callable[[dict], object]) -> Callable[[], bytes]:
    def make() -> bytes:
        doc = good_document()
        fn(doc)
        return json.dumps(doc).encode()

    return make


BIAS = '"layers.1.neurons.0.b": 0.0'
BAD_FILES: list[tuple[str, Callable[[], bytes], str]] = [
    ("truncated", lambda: json.dumps(good_document()).encode()[:-40], "not a valid model file"),
    ("only an opening brace", lambda: b"{", "not a valid model file"),
    ("Infinity literal", with_text(BIAS, '"layers.1.neurons.0.b": Infinity'), "non-finite number Infinity"),
    ("NaN literal", with_text(BIAS, '"layers.1.neurons.0.b": NaN'), "non-finite number NaN"),
    ("1e999", with_text(BIAS, '"layers.1.neurons.0.b": 1e999'), "expected a finite number"),
    ("10**400 as an int literal", with_text(BIAS, '"layers.1.neurons.0.b": 1' + "0" * 400), "finite number"),
    ("an int literal of 10,000 digits", with_text(BIAS, '"layers.1.neurons.0.b": ' + "9" * 10_000), "digits"),
    ("100000 nested [", lambda: b"[" * 100_000, "nested too deeply"),
    ("100000 nested { in the header", lambda: b'{"format": ' + b'{"a": ' * 100_000, "nested too deeply"),
    ("10 MB of junk bytes", lambda: bytes(range(256)) * (10 * 4096), "not a valid model file"),
    ("1 MB of an unterminated list", lambda: b"[" + b"1.5," * (1024 * 1024 // 4), "not a valid model file"),
    ("a pickle", lambda: pickle.dumps(print), "not a valid model file"),
    ("Python code", lambda: b"__import__('os').system('touch pwned')", "not a valid model file"),
    ("weights a dict", edited(lambda d: d["state_dict"].update({"layers.1.neurons.0.w": {"0": 1.0}})), "list"),
    ("a nested weight", edited(lambda d: d["state_dict"]["layers.1.neurons.0.w"].__setitem__(0, [1.0])), "list"),
    ("nouts a string", edited(lambda d: d["model"].update(nouts="[2, 1]")), "nouts"),
    ("nin a float", edited(lambda d: d["model"].update(nin=2.0)), "nin must be an int"),
    ("nin negative", edited(lambda d: d["model"].update(nin=-2)), "nin must be >= 1"),
    ("version a string", edited(lambda d: d.update(version="1")), "version '1'"),
    ("format a number", edited(lambda d: d.update(format=1)), "format 1"),
]


@pytest.mark.parametrize(("desc", "make", "match"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_a_bad_file_is_a_clear_error_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, desc: str, make: Callable[[], bytes], match: str
) -> None:
    monkeypatch.chdir(tmp_path)  # where `touch pwned` would land if any code ran
    path = tmp_path / "m.json"
    path.write_bytes(make())
    size = path.stat().st_size
    model = nn.MLP(2, [2, 1], seed=5)
    before = snapshot(model)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match) as info:
            model.load(path)
        with pytest.raises(ValueError, match=match):
            nn.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "m.json" in str(info.value)  # the message names the file
    assert snapshot(model) == before
    assert not (tmp_path / "pwned").exists()
    # Memory in proportion to the file: the parsed JSON of a 10 MB file, not a copy per nesting level.
    assert peak <= 40 * size + 2_000_000, f"{peak:,} bytes for a file of {size:,}"


def test_a_small_file_cannot_make_load_model_build_a_huge_model(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    doc = good_document()
    doc["model"]["nin"] = 10**9  # a billion weights per neuron, and the state dict holds a handful
    path.write_text(json.dumps(doc), encoding="utf-8")
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"load_model: .*describes MLP\(nin=1000000000.*holds 9 numbers"):
            nn.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    with pytest.raises(ValueError, match="holds MLP"):  # a model refuses the foreign header before anything else
        nn.MLP(2, [2, 1]).load(path)


def test_a_file_with_the_wrong_sizes_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    doc = good_document()
    doc["model"]["nin"] = 3  # the header says 3 inputs, the weights have 2
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError, match="'layers.0.neurons.0.w' has 2 numbers, the model needs 3"):
        nn.load_model(path)


def test_the_big_model_round_trips_exactly(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    model = nn.MLP(SIZES[0], SIZES[1], seed=3)
    model.save(path)
    assert snapshot(nn.load_model(path)) == snapshot(model)
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary file left after a save

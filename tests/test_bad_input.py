"""Bad input: exit code 2 and one line `file: field: what is wrong`, nothing else, no traceback.

Each case of the table edits the seed example in one place; the table and the tests after it
(files that are not small regular files, names, the work budget, options, output folders and a
closed standard output) double as the list of messages in docs/example-files.md.
"""

import errno
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from derive import load_example
from derive.cli import BROKEN_PIPE, main

ROOT = Path(__file__).resolve().parents[1]
SEED = (ROOT / "examples" / "seed.toml").read_text()
TITLE = 'title = "Seed: a 2-3-1 ReLU network"'

CASES = [
    # (case, text replaced, replacement, field, words in the message)
    ("invalid TOML", "loss = \"l2\"", "loss = l2", "toml", "invalid TOML"),
    ("misspelt top-level key", "[training]", "[trainng]", "trainng", "did you mean 'training'"),
    ("unknown network key", "bias = false", "bias = false\nbiass = true", "network.biass",
     "did you mean 'bias'"),
    ("missing table", "[weights]\nW1", "[weight]\nW1", "weight", "did you mean 'weights'"),
    ("title not text", 'title = "Seed: a 2-3-1 ReLU network"', "title = 3", "title",
     "must be a string"),
    ("sizes not a list", "sizes = [2, 3, 1]", "sizes = 3", "network.sizes", "list of 2 to"),
    ("zero width", "sizes = [2, 3, 1]", "sizes = [2, 0, 1]", "network.sizes[1]",
     "between 1 and 4096"),
    ("fractional width", "sizes = [2, 3, 1]", "sizes = [2, 3.5, 1]", "network.sizes[1]",
     "whole number"),
    ("one activation too few", 'activations = ["relu", "linear"]', 'activations = ["relu"]',
     "network.activations", "2 names, one per layer"),
    ("unknown activation", 'activations = ["relu", "linear"]', 'activations = ["relux", "linear"]',
     "network.activations[0]", "unknown activation 'relux'"),
    ("softmax in a hidden layer", 'activations = ["relu", "linear"]',
     'activations = ["softmax", "linear"]', "network.activations[0]", "last layer only"),
    ("unknown loss", 'loss = "l2"', 'loss = "l3"', "network.loss", "unknown loss 'l3'"),
    ("cross-entropy without softmax", 'loss = "l2"', 'loss = "cross_entropy"',
     "network.activations", "needs a softmax output layer"),
    ("bce without sigmoid", 'loss = "l2"', 'loss = "bce"', "network.activations",
     "sigmoid output layer"),
    ("bias not a boolean", "bias = false", 'bias = "no"', "network.bias", "true or false"),
    ("ragged rows", "[0.20, -0.05]]", "[0.20]]", "data.X[3]", "must have 2 entries, not 1"),
    ("X not a list", "X = [[0.75, 0.80], [0.20, 0.05], [-0.75, 0.80], [0.20, -0.05]]", "X = 1",
     "data.X", "non-empty list of rows"),
    ("text in the data", "[0.20, 0.05]", '[0.20, "0.05"]', "data.X[1][1]",
     "must be a number, not '0.05'"),
    ("NaN in the data", "[0.20, 0.05]", "[0.20, nan]", "data.X[1][1]", "must be finite"),
    ("infinity in a weight", "[0.0, 0.88]", "[0.0, inf]", "weights.W1[2][1]", "must be finite"),
    ("a boolean as a number", "[0.20, 0.05]", "[0.20, true]", "data.X[1][1]",
     "must be a number, not True"),
    ("too few targets", "y = [1, 1, -1, -1]", "y = [1, 1, -1]", "data.y", "must have 4 entries"),
    ("weights of the wrong shape", "W2 = [[0.02, 0.03, 0.09]]", "W2 = [[0.02, 0.03]]",
     "weights.W2[0]", "must have 3 entries, not 2"),
    ("too many weight rows", "W2 = [[0.02, 0.03, 0.09]]", "W2 = [[0.02, 0.03, 0.09], [1, 2, 3]]",
     "weights.W2", "must have 1 rows"),
    ("missing weights", "W2 = [[0.02, 0.03, 0.09]]", "", "weights.W2",
     "missing (1 x 3 matrix; or set weights.init to draw it)"),
    ("weights of a layer that does not exist", "W2 = [[0.02, 0.03, 0.09]]",
     "W2 = [[0.02, 0.03, 0.09]]\nW3 = [[1.0]]", "weights.W3", "unknown key"),
    ("biases without bias = true", "W2 = [[0.02, 0.03, 0.09]]",
     "W2 = [[0.02, 0.03, 0.09]]\nb2 = [0.1]", "weights.b2", "network.bias is false"),
    ("missing biases", "bias = false", "bias = true", "weights.b1", "missing (list of 3 numbers)"),
    ("learning rate as text", "learning_rate = 0.5", 'learning_rate = "0.5"',
     "training.learning_rate", "must be a number"),
    ("negative learning rate", "learning_rate = 0.5", "learning_rate = -0.5",
     "training.learning_rate", "must be positive"),
    ("zero steps", "steps = 2", "steps = 0", "training.steps", "between 1 and 10000"),
    ("absurdly many steps", "steps = 2", "steps = 1000000", "training.steps", "between 1 and 10000"),
    ("precision out of range", "precision = 4", "precision = 40", "render.precision",
     "between 0 and 12"),
    ("negative precision", "precision = 4", "precision = -1", "render.precision",
     "between 0 and 12"),
    ("an integer beyond a float", "[0.75, 0.80]", f"[{'9' * 401}, 0.80]", "data.X[0][0]",
     "must be a number of at most about 1.8e308 in size"),
    ("an integer of 5,000 digits", "steps = 2", f"steps = {'9' * 5000}", "toml",
     "more than 4300 digits"),
    ("a huge number of steps, shown short", "steps = 2", f"steps = {'9' * 4000}",
     "training.steps", "between 1 and 10000, not 9999999"),
    ("a hexadecimal integer of 5,000 digits", "steps = 2", f"steps = 0x{'F' * 5000}",
     "training.steps", "between 1 and 10000, not a value too long to show"),
    ("arrays nested too deeply", "[0.20, 0.05]", "[" * 5000 + "]" * 5000, "toml",
     "nested too deeply"),
    ("a key with a newline", TITLE, '"a\\nb" = 1\n' + TITLE, "'a\\nb'", "unknown key"),
    ("a title of 50,000 characters", TITLE, f'title = "{"x" * 50_000}"', "title",
     "must be at most 200 characters, not 50,000"),
    ("a description of 6,000 characters", 'description = """', 'description = """' + "x" * 6000,
     "description", "must be at most 5,000 characters"),
]


def run(path: Path, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = main(["values", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("case, old, new, field, words", CASES, ids=[c[0] for c in CASES])
def test_bad_field_gives_one_clear_line(tmp_path, capsys, case, old, new, field, words):
    assert old in SEED, case
    path = tmp_path / "bad.toml"
    path.write_text(SEED.replace(old, new, 1))
    code, out, err = run(path, capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"{path}: {field}: "), err
    assert words in err


def test_bce_targets_outside_zero_one(tmp_path, capsys):
    text = SEED.replace('"linear"]', '"sigmoid"]').replace('loss = "l2"', 'loss = "bce"')
    path = tmp_path / "bce.toml"
    path.write_text(text)
    assert run(path, capsys)[2] == f"{path}: data.y: bce targets must lie in [0, 1]\n"


def test_cross_entropy_targets_must_be_distributions(tmp_path, capsys):
    text = (SEED.replace("[2, 3, 1]", "[2, 3, 2]").replace('"linear"]', '"softmax"]')
            .replace('loss = "l2"', 'loss = "cross_entropy"')
            .replace("y = [1, 1, -1, -1]", "y = [[1, 0], [0.5, 0.6], [0, 1], [1, 0]]")
            .replace("W2 = [[0.02, 0.03, 0.09]]", "W2 = [[0.02, 0.03, 0.09], [0.1, 0.2, 0.3]]"))
    path = tmp_path / "ce.toml"
    path.write_text(text)
    code, _, err = run(path, capsys)
    assert code == 2 and err.startswith(f"{path}: data.y: cross_entropy targets must be distributions")


def test_missing_file_and_directory(tmp_path, capsys):
    assert run(tmp_path / "nope.toml", capsys)[2] == f"{tmp_path / 'nope.toml'}: file: no such file\n"
    assert run(tmp_path, capsys)[2] == f"{tmp_path}: file: is a directory, not an example file\n"


def test_strings_are_never_evaluated(tmp_path, capsys):
    marker = tmp_path / "evaluated"
    payload = f"__import__('pathlib').Path('{marker}').touch()"
    path = tmp_path / "evil.toml"
    path.write_text(SEED.replace('title = "Seed: a 2-3-1 ReLU network"', f'title = "{payload}"')
                    .replace("[0.20, 0.05]", f'[0.20, "{payload}"]'))
    code, _, err = run(path, capsys)
    assert code == 2 and "must be a number" in err
    assert not marker.exists()


def test_the_command_line_prints_no_traceback(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SEED.replace("steps = 2", "steps = 0"))
    result = subprocess.run([sys.executable, "-m", "derive", "values", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"{path}: training.steps: must be between 1 and 10000, not 0\n"


def assert_one_line(err: str, start: str, words: str = "") -> None:
    """Exactly one line on stderr, beginning with `start` and containing `words`."""
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(start), err
    assert words in err, err


def run_isolated(*args: str, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess:
    """`python -m derive ARGS` in a process that cannot hang this one or fill the memory."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "derive", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=120, env=env,
                          preexec_fn=limit_memory, cwd=ROOT, check=False)


def write_seed(path: Path) -> Path:
    path.write_text(SEED)
    return path


def zeros(rows: int, columns: int) -> str:
    return json.dumps([[0] * columns] * rows)


def example_text(sizes: list[int], samples: int, steps: int, exact: bool = False) -> str:
    """An example of zeros with the given widths, samples and steps (linear layers, l2)."""
    lines = [
        "[network]",
        f"sizes = {sizes}",
        f"activations = {json.dumps(['linear'] * (len(sizes) - 1))}",
        'loss = "l2"',
        "[data]",
        f"X = {zeros(samples, sizes[0])}",
        f"y = {zeros(samples, sizes[-1])}",
        "[weights]",
        *(f"W{l} = {zeros(sizes[l], sizes[l - 1])}" for l in range(1, len(sizes))),
        "[training]",
        f"steps = {steps}",
        "[render]",
        f"exact = {json.dumps(exact)}",
    ]
    return "\n".join(lines) + "\n"


# Files that are not small regular files.

def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    result = run_isolated("values", str(fifo))
    assert result.returncode == 2 and result.stdout == ""
    assert_one_line(result.stderr, f"{fifo}: file: is not a regular file")


def test_a_device_is_refused_without_reading_it():
    result = run_isolated("values", "/dev/zero")
    assert result.returncode == 2 and result.stdout == ""
    assert_one_line(result.stderr, "/dev/zero: file: is not a regular file")


def test_a_symlink_loop_and_a_file_used_as_a_folder(tmp_path, capsys):
    (tmp_path / "a.toml").symlink_to(tmp_path / "b.toml")
    (tmp_path / "b.toml").symlink_to(tmp_path / "a.toml")
    code, out, err = run(tmp_path / "a.toml", capsys)
    assert code == 2 and out == ""
    assert_one_line(err, f"{tmp_path / 'a.toml'}: file: cannot read: ", "symbolic links")
    inside = write_seed(tmp_path / "seed.toml") / "x.toml"
    code, out, err = run(inside, capsys)
    assert code == 2 and out == ""
    assert_one_line(err, f"{inside}: file: cannot read: Not a directory")


def test_an_unreadable_file(tmp_path, capsys, monkeypatch):
    path = write_seed(tmp_path / "secret.toml")
    real_open = os.open

    def deny(file, flags, *args, **kwargs):
        if Path(file) == path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    code, out, err = run(path, capsys)
    assert code == 2 and out == ""
    assert_one_line(err, f"{path}: file: cannot read: Permission denied")


def test_a_file_larger_than_1_mib(tmp_path, capsys):
    path = tmp_path / "large.toml"
    path.write_text(SEED + "#" * 2**20)
    code, out, err = run(path, capsys)
    assert code == 2 and out == ""
    assert_one_line(err, f"{path}: file: larger than 1 MiB")


def test_a_file_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "latin1.toml"
    path.write_bytes(SEED.replace("Seed", "S\xe9ed").encode("latin-1"))
    assert_one_line(run(path, capsys)[2], f"{path}: file: is not UTF-8 text")


# Names, titles and descriptions.

@pytest.mark.parametrize("stem", ["my example", "seed#1", "what?", "<img src=x onerror=alert(1)>",
                                  "-dash", "x" * 101])
def test_names_that_cannot_name_a_page_are_refused(tmp_path, capsys, stem):
    path = write_seed(tmp_path / f"{stem}.toml")
    code, out, err = run(path, capsys)
    assert code == 2 and out == ""
    assert_one_line(err, f"{path}: file: name ", "(it names the page and its files)")


def test_names_of_letters_digits_dots_underscores_and_dashes_are_fine(tmp_path):
    assert load_example(write_seed(tmp_path / "Seed_2.v-1.toml")).name == "Seed_2.v-1"


def test_a_title_is_folded_onto_one_line(tmp_path):
    path = tmp_path / "folded.toml"
    path.write_text(SEED.replace(TITLE, 'title = "\\n# A title\\n\\n  on\\ttwo lines "'))
    assert load_example(path).title == "# A title on two lines"
    path.write_text(SEED.replace(TITLE, 'title = " \\n "'))
    assert load_example(path).title == "folded"


def test_a_long_title_is_refused_quickly(tmp_path, capsys):
    path = tmp_path / "long.toml"
    path.write_text(SEED.replace(TITLE, f'title = "{"x" * 50_000}"'))
    start = time.perf_counter()
    code, _, err = run(path, capsys)
    assert time.perf_counter() - start < 5
    assert code == 2
    assert_one_line(err, f"{path}: title: must be at most 200 characters")


# The work budget.

@pytest.mark.parametrize("sizes, samples, steps", [
    ([200, 200, 200, 1], 1, 7),    # the parameters
    ([1, 1], 1000, 250),           # the samples and the steps
])
def test_a_run_beyond_the_budget_is_refused(tmp_path, capsys, sizes, samples, steps):
    path = tmp_path / "big.toml"
    path.write_text(example_text(sizes, samples, steps))
    # Every step keeps S, Z, G and delta of each layer, and five numbers per parameter.
    parameters = sum(rows * columns for columns, rows in itertools.pairwise(sizes))
    kept = f"{steps * (samples * sum(sizes[1:]) * 4 + 5 * parameters):,}"
    code, out, err = run(path, capsys)
    assert code == 2 and out == ""
    assert_one_line(err, f"{path}: training.steps: the run would keep {kept} numbers",
                    "at most 1,000,000: lower training.steps, the samples or the widths")


def test_a_run_within_the_budget_loads(tmp_path):
    path = tmp_path / "within.toml"
    path.write_text(example_text([1, 1], 1000, 249))  # 998,490 numbers
    assert load_example(path).steps == 249


def test_exact_fractions_beyond_their_bound(tmp_path, capsys):
    path = tmp_path / "exact.toml"
    path.write_text(example_text([2, 3, 1], 111, 1, exact=True))  # 9 parameters x 111 = 999
    assert load_example(path).exact
    path.write_text(example_text([2, 3, 1], 112, 1, exact=True))
    code, out, err = run(path, capsys)
    assert code == 2 and out == ""
    assert_one_line(err, f"{path}: render.exact: parameters x samples is 1,008", "at most 1,000")


# The command line's options, output folders and standard output.

SEED_PATH = str(ROOT / "examples" / "seed.toml")


@pytest.mark.parametrize("options, message", [
    (["--count", "0"], "--count: must be between 1 and 100, not 0"),
    (["--count", "1000"], "--count: must be between 1 and 100, not 1000"),
    (["--seed", "-1"], "--seed: must be a whole number >= 0, not -1"),
])
def test_bad_variant_options(tmp_path, capsys, options, message):
    code = main(["variants", SEED_PATH, "--out", str(tmp_path / "out"), *options])
    err = capsys.readouterr().err
    assert code == 2
    assert_one_line(err, message)
    assert not (tmp_path / "out").exists()


def test_an_output_folder_that_is_a_file_or_lies_under_one(tmp_path, capsys):
    file = tmp_path / "file"
    file.write_text("keep me")
    for out in (file, file / "sub"):
        assert main(["variants", SEED_PATH, "--out", str(out)]) == 2
        assert_one_line(capsys.readouterr().err, f"--out: {file} is a file, not a folder")
    assert main(["build", SEED_PATH, "--site-dir", str(file)]) == 2
    assert_one_line(capsys.readouterr().err, f"--site-dir: {file} is a file, not a folder")
    assert file.read_text() == "keep me"


def test_an_output_folder_that_cannot_be_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert main(["variants", SEED_PATH, "--out", str(tmp_path / "out")]) == 2
    assert_one_line(capsys.readouterr().err, f"--out: cannot write in {tmp_path}")


def test_a_failed_write_is_one_line(tmp_path, capsys, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_text", full)
    assert main(["variants", SEED_PATH, "--count", "1", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert_one_line(err, str(tmp_path / "out"), "seed-v1.toml: No space left on device")


def test_every_example_is_checked_before_any_output(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(SEED.replace("steps = 2", "steps = 0"))
    assert main(["check", SEED_PATH, str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_line(captured.err, f"{bad}: training.steps: ")


def test_a_closed_pipe_ends_check_quietly():
    read, write = os.pipe()
    os.close(read)  # the reader is gone before derive writes a byte
    try:
        result = run_isolated("check", "examples/seed.toml", stdout=write)
    finally:
        os.close(write)
    assert result.returncode == BROKEN_PIPE
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert result.stderr == ""


def test_check_into_head_ends_quietly():
    result = subprocess.run(f"{sys.executable} -m derive check examples/seed.toml | head -c 10",
                            shell=True, capture_output=True, text=True, cwd=ROOT, timeout=120,
                            check=False)
    assert result.stdout == "examples/s"
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr


# A closed standard output, a full disk, and paths that are not one printable line.

@pytest.mark.parametrize("command", ["values", "check"])
def test_a_closed_standard_output_is_one_line(command):
    result = subprocess.run(f"{sys.executable} -m derive {command} examples/seed.toml >&-",
                            shell=True, capture_output=True, text=True, cwd=ROOT, timeout=120,
                            check=False)
    assert result.returncode == 2
    assert_one_line(result.stderr, "standard output: closed")


@pytest.fixture
def full_disk(tmp_path, monkeypatch):
    """An empty folder with room for one small file: a tmpfs of one page where this user may
    mount one, else a folder where every copy after the first fails with ENOSPC."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(disk)]
    mounted = shutil.which(mount[0]) and subprocess.run(mount, capture_output=True, check=False)
    if mounted and mounted.returncode == 0:
        yield disk
        subprocess.run(["umount", str(disk)], check=True)
        return
    copy, copies = shutil.copyfile, []

    def first_only(source, target, **kwargs):
        copies.append(target)
        if len(copies) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(source))
        return copy(source, target, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", first_only)
    yield disk


def test_new_on_a_full_disk_leaves_nothing_and_can_be_run_again(full_disk, capsys):
    for project in (full_disk / "course", full_disk / "course", full_disk):
        assert main(["new", str(project)]) == 2
        assert_one_line(capsys.readouterr().err, f"{project}: cannot create the project: ",
                        "No space left on device")
        assert list(full_disk.iterdir()) == []


def test_paths_with_control_characters_are_shown_on_one_line(tmp_path, capsys, monkeypatch):
    odd = tmp_path / "two\nlines"
    odd.mkdir()
    named = write_seed(tmp_path / "a\x7fb\nc.toml")
    (odd / "file").write_text("keep me")
    commands = [
        (["values", str(named)], named),
        (["values", str(odd / "missing.toml")], odd / "missing.toml"),
        (["new", str(odd)], odd),
        (["variants", SEED_PATH, "--out", str(odd / "file")], odd / "file"),
        (["build", SEED_PATH, "--site-dir", str(odd)], odd),
    ]
    for args, path in commands:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert_one_line(err, "", repr(str(path)))
    assert (odd / "file").read_text() == "keep me"


def test_a_system_error_naming_a_path_with_a_newline_is_one_line(tmp_path, capsys, monkeypatch):
    shown = str(tmp_path / "two\nlines")

    def refused(path):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), shown)

    monkeypatch.setattr("derive.worked.worked_example", refused)
    assert main(["values", SEED_PATH]) == 2
    assert_one_line(capsys.readouterr().err, f"{shown!r}: Permission denied")


@pytest.mark.parametrize(("replaced", "replacement", "message"), [
    # A row's closing bracket forgotten: TOML's parser notices on the next line.
    ("[0.20, -0.05]]", "[0.20, -0.05]", ("the [ opened on line 15 is never closed; noticed at "
                                         "line 16, column 1")),
    # An array spread over lines, unclosed: the parser notices at the next table.
    ("W2 = [[0.02, 0.03, 0.09]]", "W2 = [\n  [0.02, 0.03, 0.09],\n",
     "the [ opened on line 20 is never closed; noticed at line 24, column 2"),
    # Brackets inside strings and comments do not count; the file can end first.
    ('title = "Seed: a 2-3-1 ReLU network"', 'title = "a [b"  # [', ""),
    ("precision = 4", "precision = 4\nnotes = [\"]\", # ]\n",
     "the [ opened on line 28 is never closed; the file ends first"),
])
def test_an_unclosed_bracket_names_the_line_where_it_opened(tmp_path, capsys, replaced,
                                                           replacement, message):
    path = tmp_path / "seed.toml"
    path.write_text(SEED.replace(replaced, replacement))
    code = main(["values", str(path)])
    err = capsys.readouterr().err
    if not message:  # a valid file whose strings and comments hold brackets
        assert code == 0, err
        return
    assert code == 2
    assert_one_line(err, f"{path}: toml: invalid TOML ({message})\n")

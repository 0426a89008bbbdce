"""Builds redo only what changed: each example's files are cached by everything they depend on."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import pytest
from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config

import derive.worked
from derive import store
from derive.present.options import RenderOptions
from derive.project import new_project
from derive.site import examples
from derive.site.build import build_site
from derive.site.examples import generate_example_files, results_key

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("seed", "tanh-regression", "softmax-classifier")

pytestmark = pytest.mark.usefixtures("cache")  # a fresh cache for every test


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project made by `derive new`, holding three of the shipped examples."""
    folder = tmp_path / "course"
    new_project(folder)
    (folder / "examples" / "first.toml").unlink()
    for name in SHIPPED:
        shutil.copyfile(ROOT / "examples" / f"{name}.toml", folder / "examples" / f"{name}.toml")
    return folder


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the examples computed (derived, trained, rendered) in this process."""
    names: list[str] = []
    original = derive.worked.worked_example

    def counting(source):
        names.append(Path(source).stem)
        return original(source)

    monkeypatch.setattr(derive.worked, "worked_example", counting)
    return names


def example_paths(project: Path) -> list[Path]:
    return sorted((project / "examples").glob("*.toml"))


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def generate_twice(paths: list[Path], computed: list[str]) -> dict:
    """Generate the examples' files, then again: the second time every one is cached."""
    first = generate_example_files(paths)
    computed.clear()
    assert generate_example_files(paths) == first
    assert computed == []
    return first


def edit(path: Path) -> None:
    """Change an example's learning rate, as a teacher editing it would."""
    text = path.read_text()
    assert "learning_rate = 0.2" in text
    path.write_text(text.replace("learning_rate = 0.2", "learning_rate = 0.25"))


def test_an_edited_example_changes_its_files_and_no_other_example_is_computed(project, computed):
    site = project / "site"
    build_site(site_dir=site, config_file=project / "mkdocs.yml")
    assert sorted(computed) == sorted(SHIPPED)
    before = files_of(site / "examples")
    edit(project / "examples" / "tanh-regression.toml")
    computed.clear()
    build_site(site_dir=site, config_file=project / "mkdocs.yml")
    assert computed == ["tanh-regression"]
    after = files_of(site / "examples")
    assert sorted(after) == sorted(before)
    changed = sorted(name for name in after if after[name] != before[name])
    assert changed and all(name.startswith("tanh-regression") for name in changed)
    assert "tanh-regression/index.html" in changed and "tanh-regression.json" in changed
    answer = json.loads(after["tanh-regression.json"])
    assert answer["learning_rate"] == 0.25


def test_a_build_with_nothing_changed_computes_nothing_and_never_imports_sympy(project):
    script = ("import sys; from derive.cli import main; code = main(['build']); "
              "print(code, 'sympy' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def build() -> str:
        done = subprocess.run([sys.executable, "-c", script], cwd=project, env=env,
                              capture_output=True, text=True, check=True)
        return done.stdout.split()

    assert build() == ["0", "True"]
    site = files_of(project / "site")
    assert build() == ["0", "False"]
    assert files_of(project / "site") == site


def test_a_changed_template_recomputes_every_example(project, computed, tmp_path):
    paths = example_paths(project)
    generate_twice(paths, computed)
    overrides = tmp_path / "overrides"
    overrides.mkdir()
    page = (examples.TEMPLATES / "example.md.j2").read_text()
    (overrides / "example.md.j2").write_text(page + "\nEdited by the course.\n")
    computed.clear()
    files = generate_example_files(paths, templates=(overrides,))
    assert sorted(computed) == sorted(SHIPPED)
    pages = [generated.content for uri, generated in files.items() if uri.endswith(".md")]
    assert len(pages) == 3 and all("Edited by the course." in page for page in pages)


def test_a_change_to_derives_own_templates_recomputes_every_example(project, computed, tmp_path,
                                                                    monkeypatch):
    paths = example_paths(project)
    generate_twice(paths, computed)
    copy = tmp_path / "templates"
    shutil.copytree(examples.TEMPLATES, copy)
    with (copy / "macros.j2").open("a") as macros:
        macros.write("((= an upgraded template =))\n")
    monkeypatch.setattr(examples, "TEMPLATES", copy)
    computed.clear()
    generate_example_files(paths)
    assert sorted(computed) == sorted(SHIPPED)


def test_a_derive_upgrade_recomputes_every_example(project, computed, monkeypatch):
    paths = example_paths(project)
    generate_twice(paths, computed)
    installed = store.version

    def upgraded(package: str) -> str:
        return "99.0" if package == "derive" else installed(package)

    monkeypatch.setattr(store, "version", upgraded)
    computed.clear()
    generate_example_files(paths)
    assert sorted(computed) == sorted(SHIPPED)


def test_the_key_covers_the_file_its_name_and_the_options(project, tmp_path):
    path = project / "examples" / "seed.toml"
    key = results_key(path, RenderOptions(), ())
    renamed = tmp_path / "renamed.toml"
    shutil.copyfile(path, renamed)
    assert results_key(path, RenderOptions(), ()) == key
    assert results_key(renamed, RenderOptions(), ()) != key
    assert results_key(path, RenderOptions(precision=2), ()) != key
    edit_free = path.read_text()
    path.write_text(edit_free + "\n")
    assert results_key(path, RenderOptions(), ()) != key


@pytest.mark.parametrize("damage", ["content", "hash line", "not compressed", "not json",
                                    "group-writable"])
def test_a_damaged_entry_is_computed_again_and_replaced(project, computed, damage):
    (path,) = example_paths(project)[:1]
    first = generate_twice([path], computed)
    entry = examples.RESULTS.path(results_key(path, RenderOptions(), ()))
    data = entry.read_bytes()
    header, _, body = data.partition(b"\n")
    if damage == "content":
        entry.write_bytes(header + b"\n" + body[:-4] + b"\0\0\0\0")
    elif damage == "hash line":
        entry.write_bytes(b"# derive-cache sha256=" + b"0" * 64 + b"\n" + body)
    elif damage == "not compressed":
        entry.write_bytes(store.stamped(b'{"examples/seed.md": "stale"}'))
    elif damage == "not json":
        entry.write_bytes(store.stamped(zlib.compress(b"{not json")))
    else:
        entry.chmod(0o620)
    computed.clear()
    again = generate_example_files([path])
    assert computed == [path.stem]
    assert again == first
    assert entry.read_bytes() == data and entry.stat().st_mode & 0o777 == 0o600


def test_many_examples_are_computed_in_a_pool_with_the_same_files(project, monkeypatch):
    paths = example_paths(project)
    monkeypatch.setattr(examples, "POOL_AT", len(paths) + 1)
    alone = generate_example_files(paths)
    for entry in examples.RESULTS.directory.iterdir():
        entry.unlink()
    monkeypatch.setattr(examples, "POOL_AT", 2)
    monkeypatch.setattr(examples, "_cores", lambda: 2)
    pooled = generate_example_files(paths)
    assert list(pooled) == list(alone) and pooled == alone


def test_a_dirty_rebuild_writes_only_the_edited_examples_files_again(project):
    config = load_config(config_file=str(project / "mkdocs.yml"), site_dir=str(project / "site"))
    mkdocs_build(config)
    written = {name: path.stat().st_mtime_ns
               for name, path in ((p.relative_to(project / "site").as_posix(), p)
                                  for p in (project / "site" / "examples").rglob("*"))
               if path.is_file()}
    edit(project / "examples" / "tanh-regression.toml")
    mkdocs_build(config, dirty=True)
    rewritten = sorted(name for name, mtime in written.items()
                       if (project / "site" / name).stat().st_mtime_ns != mtime)
    assert rewritten and all(name.startswith("examples/tanh-regression") for name in rewritten)
    assert "examples/tanh-regression/index.html" in rewritten


def test_the_results_cache_keeps_its_most_recently_used_entries(project, monkeypatch):
    assert examples.RESULTS.max_entries == 1024
    monkeypatch.setattr(examples.RESULTS, "max_entries", 2)
    paths = example_paths(project)
    generate_example_files(paths[:1])
    an_hour_ago = time.time() - 3600
    (first,) = examples.RESULTS.directory.iterdir()
    os.utime(first, (an_hour_ago, an_hour_ago))
    generate_example_files(paths[1:])
    kept = sorted(entry.name for entry in examples.RESULTS.directory.iterdir())
    assert kept == sorted(examples.RESULTS.path(results_key(path, RenderOptions(), ())).name
                          for path in paths[1:])


def test_a_cache_that_cannot_be_written_costs_only_the_computation(project, computed,
                                                                     monkeypatch):
    def refused(*arguments, **keywords):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    paths = example_paths(project)
    first = generate_example_files(paths)
    again = generate_example_files(paths)
    assert again == first and sorted(computed) == sorted(SHIPPED * 2)
    assert not examples.RESULTS.directory.exists() or not any(
        examples.RESULTS.directory.iterdir())


def test_override_templates_apply_to_the_figures_too(project, tmp_path):
    overrides = tmp_path / "overrides"
    overrides.mkdir()
    for name in ("network.svg.j2", "loss.svg.j2"):
        (overrides / name).write_text(f"<svg><!-- the course's own {name} --></svg>\n")
    files = generate_example_files([project / "examples" / "tanh-regression.toml"],
                                   templates=(overrides,))
    assert "the course's own network.svg.j2" in files["examples/tanh-regression-network.svg"].content
    assert "the course's own loss.svg.j2" in files["examples/tanh-regression-loss.svg"].content

"""Output folders: only what derive built is replaced, always whole, and killed builds leave
nothing behind; titles are escaped exactly once."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from derive.cli import main
from derive.errors import DeriveError
from derive.output import MARKER, WORK_MARKER, replacing

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "seed.toml"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("target", ["docs", "examples", "templates", "derive", "README.md", ".git"])
def test_build_refuses_a_site_dir_derive_did_not_build(target, capsys):
    before = snapshot(ROOT / target) if (ROOT / target).is_dir() else (ROOT / target).read_bytes()
    assert main(["build", str(SEED), "--site-dir", str(ROOT / target)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"--site-dir: {ROOT / target} ")
    after = snapshot(ROOT / target) if (ROOT / target).is_dir() else (ROOT / target).read_bytes()
    assert after == before


def test_a_folder_outside_the_project_is_refused_and_kept(tmp_path, capsys):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    assert main(["build", str(SEED), "--site-dir", str(mine)]) == 2
    assert "derive did not build" in capsys.readouterr().err
    assert (mine / "thesis.tex").read_text() == "years of work"


def test_an_absent_empty_or_derive_built_folder_is_replaced_whole(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    assert main(["build", str(SEED), "--site-dir", str(site)]) == 0
    assert (site / MARKER).is_file() and (site / "examples" / "seed.json").is_file()
    (site / "stale.html").write_text("from an older build")
    assert main(["build", str(SEED), "--site-dir", str(site)]) == 0
    assert not (site / "stale.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_failed_fill_leaves_the_old_folder_and_no_work_folder(tmp_path):
    target = tmp_path / "out"
    with replacing(target, "--out") as fresh:
        fresh.mkdir()
        (fresh / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), replacing(target, "--out") as fresh:
        fresh.mkdir()
        (fresh / "a.txt").write_text("new")
        raise RuntimeError("killed halfway")
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_readers_never_see_a_missing_folder_while_it_is_replaced(tmp_path):
    target = tmp_path / "out"
    for generation in range(3):
        with replacing(target, "--out") as fresh:
            fresh.mkdir()
            (fresh / "generation").write_text(str(generation))
            # The old folder is still in place until the exchange.
            assert target.exists() == (generation > 0)
        assert (target / "generation").read_text() == str(generation)


def test_leftovers_of_a_killed_build_are_removed_by_the_next(tmp_path):
    site = tmp_path / "site"
    script = ("import os, sys\nfrom pathlib import Path\nfrom derive.output import replacing\n"
              f"with replacing(Path({str(site)!r}), '--site-dir') as fresh:\n"
              "    fresh.mkdir(); (fresh / 'half').write_text('x'); os._exit(9)\n")
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=False)
    assert killed.returncode == 9
    (leftover,) = [p for p in tmp_path.iterdir() if p.name.startswith(".site-build-")]
    assert main(["build", str(SEED), "--site-dir", str(site)]) == 0
    assert not leftover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_git_ignores_the_work_folders():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".site-build-123-abc/"], cwd=ROOT,
                             check=False)
    assert ignored.returncode == 0


def test_a_symlinked_or_file_target_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(DeriveError, match="not a folder derive built"), \
            replacing(tmp_path / "link", "--out"):
        pass


def test_titles_are_escaped_exactly_once_and_keep_any_unicode(tmp_path):
    network = SEED.read_text()[SEED.read_text().index("[network]"):]
    (tmp_path / "amp.toml").write_text('title = "Loss & gain <3"\n' + network)
    (tmp_path / "emoji.toml").write_text('title = "Gradients 😀 中文"\n' + network)
    site = tmp_path / "site"
    assert main(["build", str(tmp_path / "amp.toml"), str(tmp_path / "emoji.toml"),
                 "--site-dir", str(site)]) == 0
    home = (site / "index.html").read_text()
    assert "Loss &amp; gain &lt;3" in home and "&amp;amp;" not in home and "&amp;lt;" not in home
    page = (site / "examples" / "emoji" / "index.html").read_text()
    assert "<title>Gradients 😀 中文 - derive</title>" in page
    assert "Gradients 😀 中文" in home


def test_variants_replace_only_a_folder_derive_made(tmp_path, capsys):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "exam.tex").write_text("mine")
    assert main(["variants", str(SEED), "--count", "1", "--out", str(notes)]) == 2
    assert "derive did not build" in capsys.readouterr().err
    assert (notes / "exam.tex").read_text() == "mine"
    out = tmp_path / "variants"
    for count in (2, 1):
        assert main(["variants", str(SEED), "--count", str(count), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        MARKER, "seed-v1-questions.tex", "seed-v1.json", "seed-v1.tex", "seed-v1.toml"]


def test_a_folder_that_cannot_be_made_is_one_line_naming_the_option(capsys):
    assert main(["build", str(SEED), "--site-dir", "/proc/derive-site"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("--site-dir: cannot write in /proc")


def dead_pid() -> int:
    """The id of a process that has ended."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(ended.stdout)


def test_only_work_folders_derive_marked_are_removed_as_leftovers(tmp_path):
    pid = dead_pid()
    named_alike = tmp_path / f".site-build-{pid}-notes"
    named_alike.mkdir()
    (named_alike / "thesis.tex").write_text("years of work")
    linked = tmp_path / f".site-build-{pid}-linked"
    linked.mkdir()
    (tmp_path / "pid").write_text(f"{pid}\n")
    (linked / WORK_MARKER).symlink_to(tmp_path / "pid")
    (linked / "draft.md").write_text("mine")
    assert main(["build", str(SEED), "--site-dir", str(tmp_path / "site")]) == 0
    assert (named_alike / "thesis.tex").read_text() == "years of work"
    assert (linked / "draft.md").read_text() == "mine"


def test_a_symlinked_marker_does_not_make_a_folder_replaceable(tmp_path, capsys):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    (tmp_path / "any-file").write_text("")
    (mine / MARKER).symlink_to(tmp_path / "any-file")
    assert main(["variants", str(SEED), "--count", "1", "--out", str(mine)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"--out: {mine} is a folder derive did not build")
    assert (mine / "thesis.tex").read_text() == "years of work"


def test_variants_refuse_an_out_folder_holding_their_example(tmp_path, capsys):
    out = tmp_path / "x"
    out.mkdir()
    (out / MARKER).write_text("")
    example = out / "seed.toml"
    example.write_bytes(SEED.read_bytes())
    assert main(["variants", str(example), "--count", "1", "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"--out: {out} holds {example}")
    assert example.read_bytes() == SEED.read_bytes()


def test_a_site_dir_holding_an_example_is_refused(tmp_path, capsys):
    site = tmp_path / "site"
    site.mkdir()
    (site / MARKER).write_text("")
    example = site / "mine.toml"
    example.write_bytes(SEED.read_bytes())
    assert main(["build", str(example), "--site-dir", str(site)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"--site-dir: {site} holds {example}")
    assert sorted(p.name for p in site.iterdir()) == [MARKER, "mine.toml"]


@pytest.mark.parametrize("inside", ["site", "site/deeper"])
def test_a_site_dir_inside_the_docs_folder_is_refused(inside, capsys):
    site = ROOT / "docs" / inside
    assert main(["build", str(SEED), "--site-dir", str(site)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"--site-dir: {site} and the docs folder {ROOT / 'docs'} must lie apart")
    assert not (ROOT / "docs" / "site").exists()


def test_examples_whose_files_collide_in_the_site_are_refused_naming_both(tmp_path, capsys):
    first, second = tmp_path / "x.toml", tmp_path / "x.json.toml"
    for path in (first, second):
        path.write_bytes(SEED.read_bytes())
    site = tmp_path / "site"
    assert main(["build", str(first), str(second), "--site-dir", str(site)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert str(first) in line and str(second) in line
    assert "examples/x.json in the site" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json.toml", "x.toml"]


# MkDocs' own site folder: `derive build` replaces what `mkdocs build` made from the same
# mkdocs.yml, as MkDocs would; every other folder keeps the rules above.

@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project `derive new` made, as the working directory."""
    assert main(["new", str(tmp_path / "course")]) == 0
    monkeypatch.chdir(tmp_path / "course")
    return tmp_path / "course"


def mkdocs_site(folder: Path, sitemap: bool = True, not_found: bool = True) -> dict[str, bytes]:
    """`folder` as `mkdocs build` leaves a site: its pages, sitemap and 404 page."""
    folder.mkdir()
    (folder / "index.html").write_text("<html>an older site</html>")
    if sitemap:
        (folder / "sitemap.xml").write_text("<urlset/>")
    if not_found:
        (folder / "404.html").write_text("<html>not found</html>")
    return snapshot(folder)


def test_build_replaces_the_site_mkdocs_built_from_the_same_config(project, capsys):
    mkdocs_site(project / "site")
    assert main(["build"]) == 0
    assert (project / "site" / MARKER).is_file()
    assert "an older site" not in (project / "site" / "index.html").read_text()


@pytest.mark.parametrize("missing", ["sitemap", "not_found"])
def test_a_site_folder_without_mkdocs_sitemap_and_404_page_is_kept(project, capsys, missing):
    before = mkdocs_site(project / "site", **{missing: False})
    assert main(["build"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"--site-dir: {project / 'site'} is a folder derive did not build")
    assert snapshot(project / "site") == before


def test_a_folder_mkdocs_built_elsewhere_than_the_configs_site_dir_is_kept(project, capsys):
    before = mkdocs_site(project / "public")
    assert main(["build", "--site-dir", "public"]) == 2
    assert "is a folder derive did not build" in capsys.readouterr().err
    assert snapshot(project / "public") == before


def test_a_symlinked_sitemap_does_not_make_the_site_folder_replaceable(project, capsys):
    site = project / "site"
    before = mkdocs_site(site, sitemap=False)
    (site / "sitemap.xml").symlink_to(project / "mkdocs.yml")
    assert main(["build"]) == 2
    assert "is a folder derive did not build" in capsys.readouterr().err
    assert snapshot(site) == before | {"sitemap.xml": (project / "mkdocs.yml").read_bytes()}


def test_the_build_log_names_the_site_folder_not_the_work_folder(project, caplog):
    caplog.set_level(logging.INFO)
    assert main(["build"]) == 0
    assert f"Building documentation to directory: {project / 'site'}" in caplog.text
    assert f"site built in {project / 'site'}" in caplog.text
    assert ".site-build-" not in caplog.text


def test_the_error_page_states_the_exit_codes_the_builds_return(project, capsys):
    from derive.present.render import render

    first = project / "examples" / "first.toml"
    first.write_text(first.read_text().replace('loss = "l2"', 'loss = "l3"'))
    assert "`mkdocs build` stops with this\nmessage and exit code 1, `python -m derive build` " \
           "with exit code 2." in render("error.md.j2", name="first", message="unknown loss")
    assert main(["build"]) == 2
    # In its own process: MkDocs' command line sets its loggers' levels for the whole process.
    mkdocs = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q"], cwd=project,
                            capture_output=True, check=False)
    assert mkdocs.returncode == 1

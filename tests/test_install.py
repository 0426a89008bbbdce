"""derive outside its repository: a wheel installed in a fresh virtual environment makes a new
project whose site builds with plain `mkdocs build`, offline math included, and carries the
example files' reference."""

import json
import re
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from derive.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def seeing_this_interpreter(folder: Path) -> Path:
    """The python of a fresh virtual environment that also sees the packages of the interpreter
    running the tests, through a .pth file naming its site-packages folders. (Made with
    system_site_packages from inside a virtual environment, it would see the base
    interpreter's packages instead of this one's.)"""
    venv.create(folder, with_pip=False)
    python = folder / "bin" / "python"
    ours = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
               folder).stdout.strip()
    theirs = [*site.getsitepackages(), *([site.getusersitepackages()] if site.ENABLE_USER_SITE
                                         else [])]
    (Path(ours) / "running-interpreter.pth").write_text("\n".join(theirs) + "\n")
    return python


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The python of a fresh virtual environment with derive installed from its wheel (the
    other packages come from the environment running the tests, so nothing is downloaded)."""
    folder = tmp_path_factory.mktemp("install")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(folder / "wheel"), str(ROOT)], folder)
    python = seeing_this_interpreter(folder / "venv")
    (wheel,) = (folder / "wheel").glob("derive-*.whl")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         str(wheel)], folder)
    where = run([str(python), "-c", "import derive; print(derive.__file__)"], folder).stdout
    assert where.startswith(str(folder / "venv")), where
    return python


def test_a_venv_made_for_a_test_sees_the_packages_of_the_interpreter_running_it(tmp_path):
    python = seeing_this_interpreter(tmp_path / "venv")
    import mkdocs

    where = run([str(python), "-c", "import mkdocs; print(mkdocs.__file__)"], tmp_path).stdout
    assert where.strip() == mkdocs.__file__
    prefix = run([str(python), "-c", "import sys; print(sys.prefix)"], tmp_path).stdout
    assert prefix.strip() == str(tmp_path / "venv")


def test_the_wheel_carries_the_example_file_reference(installed, tmp_path):
    shown = run([str(installed), "-m", "derive", "help", "example-file"], tmp_path).stdout
    assert shown == (ROOT / "docs" / "example-files.md").read_text()
    first = (ROOT / "templates" / "project" / "first.toml").read_text()
    assert "python -m derive help example-file" in first.partition("\ntitle")[0]


def test_a_new_project_from_the_wheel_builds_with_mkdocs(installed, tmp_path):
    project = tmp_path / "course"
    run([str(installed), "-m", "derive", "new", str(project)], tmp_path)
    second = (project / "examples" / "first.toml").read_text().replace(
        'title = "A first worked example"', 'title = "A second one"').replace(
        "learning_rate = 0.5", "learning_rate = 0.25")
    (project / "examples" / "second.toml").write_text(second)
    (project / "docs" / "notes.md").write_text(
        "# Notes\n\nThe second example's first gradient:\n\n```derive\n"
        'example = "examples/second.toml"\nshow = "dL_dW2"\nform = "both"\n```\n')
    run([str(installed), "-m", "mkdocs", "build", "--strict"], project)
    site = project / "site"
    for name in ("first", "second"):
        page = (site / "examples" / name / "index.html").read_text()
        key = json.loads(run([str(installed), "-m", "derive", "values",
                              f"examples/{name}.toml"], project).stdout)
        updated = key["steps"][0]["updated"]["W2"][0]
        shown = re.search(r"W\^\{\[2\]\}_\{\\text\{new\}\} = \\begin\{bmatrix\}([^\\]*)", page)
        assert [float(v) for v in shown.group(1).split("&amp;")] == [round(v, 4) for v in updated]
    notes = (site / "notes" / "index.html").read_text()
    gradient = json.loads(run([str(installed), "-m", "derive", "values", "examples/second.toml"],
                              project).stdout)["steps"][0]["gradients"]["W2"][0]
    block = re.search(r"\\delta\^\{\[2\]\} \\left\(Z\^\{\[1\]\}\\right\)\^\{T\} \\\\ "
                      r"\\frac\{\\partial L\}\{\\partial W\^\{\[2\]\}\} = "
                      r"\\begin\{bmatrix\}([^\\]*)", notes)
    assert [float(v) for v in block.group(1).split("&amp;")] == [round(v, 4) for v in gradient]
    assert (site / "assets" / "mathjax" / "tex-chtml.js").is_file()
    assert (site / "assets" / "derive" / "derive.js").is_file()
    home = (site / "index.html").read_text()
    assert "A second one" in home and "A first worked example" in home
    assert "Worked examples" in home  # the plugin's navigation section
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", home)
    # derive build replaces the site `mkdocs build` made from the same mkdocs.yml, and says so
    # naming that folder, not the one it built in.
    built = run([str(installed), "-m", "derive", "build"], project).stderr
    assert (site / ".derive-output").is_file() and (site / "notes" / "index.html").is_file()
    assert f"Building documentation to directory: {site}\n" in built


def test_new_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "notes.md").write_text("mine")
    assert main(["new", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"{tmp_path}: exists and is not an empty folder; choose a new name"
    assert (tmp_path / "notes.md").read_text() == "mine"


def test_build_outside_a_project_says_what_to_do(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["build"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "python -m derive new DIR" in line


def test_a_templates_folder_overrides_derives_own(tmp_path, monkeypatch):
    from derive.site.build import build_site

    project = tmp_path / "course"
    assert main(["new", str(project)]) == 0
    (project / "overrides").mkdir()
    (project / "overrides" / "example.md.j2").write_text(
        "---\ntitle: ((( page.title | escape_html )))\n---\n# Overridden: ((( page.title )))\n\n"
        "$L = ((( page.detailed[0].loss )))$\n")
    config = project / "mkdocs.yml"
    config.write_text(config.read_text().replace(
        "      examples: examples/*.toml", "      examples: examples/*.toml\n"
        "      templates: overrides\n      nav_title: Exercises"))
    monkeypatch.chdir(project)
    site = build_site(site_dir=project / "site", config_file=config)
    page = (site / "examples" / "first" / "index.html").read_text()
    assert "Overridden: A first worked example" in page and "Exercises" in page
    assert "One entry of each gradient" not in page
    assert (site / "examples" / "first.tex").read_text().startswith(r"\documentclass")


def test_ci_runs_the_readmes_test_command_in_a_fresh_virtual_environment():
    readme = (ROOT / "README.md").read_text()
    (command,) = [line for line in readme.splitlines() if "pytest" in line and "pip" in line]
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    venv_line = next(i for i, line in enumerate(script) if line.startswith("python -m venv "))
    activate = next(i for i, line in enumerate(script) if line.startswith("source ")
                    and line.endswith('/bin/activate"'))
    ran = next(i for i, line in enumerate(script) if line.startswith(command))
    assert venv_line < activate < ran

"""Text is data everywhere: a title or description reaches the page, the navigation, search, the
window title, the home page's list, LaTeX and Jupyter as the characters it holds, never as
markup, math, a template or a request; characters no page can show as text are refused."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import markdown
import pytest
from browser import opened
from hypothesis import given, settings
from hypothesis import strategies as st
from mkdocs.utils.meta import get_data
from test_latex import compile_tex

from derive import load_example, worked_example
from derive.cli import main
from derive.errors import SpecError
from derive.present.escape import escape_html, escape_latex
from derive.site.build import build_site
from derive.spec import _Validator

ROOT = Path(__file__).resolve().parents[1]
# The network of every example file here: the smallest, as the text is under test, not the
# numbers (and a small page loads sooner).
NETWORK = """[network]
sizes = [1, 1, 1]
activations = ["relu", "linear"]
loss = "l2"
bias = false

[data]
X = [[0.75], [-0.2]]
y = [1, -1]

[weights]
W1 = [[0.6]]
W2 = [[0.5]]

[training]
learning_rate = 0.5
steps = 1
"""
SITE_NAME = "Worked examples"  # the site_name of a project `derive new` makes

# Titles, one example file each: every one would run a script, load a remote file or be
# evaluated if it reached a page, a template or TeX as anything but text.
TITLES = {
    "attr": "[x](#){: tabindex=1 autofocus onfocus=document.body.append(/PWNEDXSS/.source) }",
    "html": "</title><script>alert(1)</script> <img src=x onerror=alert(2)> "
            "<iframe src=javascript:alert(3)></iframe> <b onmouseover=alert(4)>bold</b>",
    "links": "[x](javascript:alert(5)) ![x](http://example.invalid/x.png) <http://example.invalid/a> "
             "<javascript:alert(6)> &amp; &lt; &#60;",
    "templates": "{{ 7*7 }} ((( 7*7 ))) ((* if true *))x((* endif *)) {% raw %} ((= c =)) ${x}",
    "tex": r"\input{/etc/passwd} $\href{javascript:alert(7)}{x}$ \(a\) \[b\] $$c$$ 50% #1 ~^_",
    "unicode": "1. Ŷ − Y 😀 👩‍👩‍👧 \u200fשלום\u200e a\u00a0b zero\ufeffwidth 中文 \"quoted\" 'single'",
}
# One description for every file: the titles, and lines that would open Markdown blocks.
DESCRIPTION = "\n".join([
    *TITLES.values(),
    "1986. a numbered line", "    indented like code", "===", "??? note", ": a definition",
    "/// details", "---", "> a quote", "| a | b |", "\tafter a tab", "a line\u2028separator",
    "{: onclick=alert(8) }", "",
    "second paragraph <svg onload=alert(9)>",
])
# Characters refused in a title or a description, by what the message calls them.
REFUSED = {
    "a control character": [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if c not in (9, 10)],
    "a noncharacter": ["\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff"],
    "a bidirectional control": [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]],
}


def toml_string(text: str) -> str:
    """text as a TOML basic string, every character outside printable ASCII escaped."""
    def escape(c: str) -> str:
        if c in '"\\':
            return "\\" + c
        if " " <= c <= "~":
            return c
        return f"\\u{ord(c):04X}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08X}"

    return '"' + "".join(escape(c) for c in text) + '"'


def folded(title: str) -> str:
    """A title as derive shows it: on one line, each run of whitespace one space."""
    return " ".join(title.split())


def write_example(path: Path, title: str, description: str) -> Path:
    path.write_text(f"title = {toml_string(title)}\ndescription = {toml_string(description)}\n"
                    + NETWORK)
    return path


def derive_command(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "derive", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300, check=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project as `python -m derive new` makes it (do not modify it; copy it)."""
    folder = tmp_path_factory.mktemp("new") / "project"
    assert derive_command("new", str(folder), cwd=folder.parent).returncode == 0
    return folder


@pytest.fixture(scope="module")
def hostile_site(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of one example file per hostile title, each with the hostile description."""
    folder = tmp_path_factory.mktemp("hostile") / "project"
    shutil.copytree(project, folder)
    (folder / "examples" / "first.toml").unlink()
    for name, title in TITLES.items():
        write_example(folder / "examples" / f"{name}.toml", title, DESCRIPTION)
    return build_site(site_dir=folder / "site", config_file=folder / "mkdocs.yml")


# Refused characters.

@pytest.mark.parametrize("field", ["title", "description"])
@pytest.mark.parametrize("kind", REFUSED)
def test_characters_no_page_can_show_are_refused_by_code_point(tmp_path, field, kind):
    for char in REFUSED[kind]:
        path = tmp_path / "refused.toml"
        path.write_text(f"{field} = {toml_string('a' + char + 'b')}\n" + NETWORK)
        with pytest.raises(SpecError) as refused:
            load_example(path)
        assert str(refused.value) == (
            f"{path}: {field}: must not hold U+{ord(char):04X} ({kind}), found at character 2")


def test_a_surrogate_is_refused_though_no_utf8_file_can_hold_one():
    with pytest.raises(SpecError, match=r"description: must not hold U\+D800 \(a surrogate\)"):
        _Validator(Path("x.toml")).text("description", "a\ud800", 100)


def test_tabs_and_newlines_stay_in_a_description_and_fold_in_a_title(tmp_path):
    example = load_example(write_example(tmp_path / "kept.toml", "a\tb\nc", "a\tb\nc"))
    assert (example.title, example.description) == ("a b c", "a\tb\nc")


@pytest.mark.parametrize("field, char", [("title", "\x7f"), ("description", "\x85")])
def test_the_reported_payload_stops_the_build_with_one_line_naming_the_field(project, tmp_path, field, char):
    folder = tmp_path / "project"
    shutil.copytree(project, folder)
    texts = {"title": "ok", "description": "ok", field: char + TITLES["attr"]}
    path = write_example(folder / "examples" / "first.toml", texts["title"], texts["description"])
    result = derive_command("build", cwd=folder)
    assert result.returncode == 2
    assert result.stderr == (f"{path}: {field}: must not hold U+{ord(char):04X} "
                             "(a control character), found at character 1\n")
    assert not (folder / "site").exists()


# The front matter.

@settings(max_examples=200, deadline=None)
@given(st.text())
def test_the_front_matter_title_parses_back_to_exactly_the_escaped_text(text):
    body, meta = get_data(f"---\ntitle: {escape_html(text)}\n---\n# x\n")
    assert meta == {"title": html.escape(text)}
    assert body == "# x\n"


def test_characters_yaml_refuses_or_folds_are_written_as_escapes():
    text = "\x7f\x85\x9b\u2028\u2029\ufffe\uffff\U0001fffe\t\\ 😀"
    assert escape_html(text) == (
        '"\\x7f\\x85\\x9b\\u2028\\u2029\\ufffe\\uffff\\U0001fffe\\x09\\\\ 😀"')


# The site in a real browser.

# The visible text and the live parts of an example page, once MathJax has typeset it; first
# every focusable element of the page's text focused and each link of the title and
# description clicked.
INSPECT_EXAMPLE = """async () => {
  await MathJax.startup.promise;
  const article = document.querySelector("article");
  const h1 = article.querySelector("h1");
  const region = [h1];
  for (let el = h1.nextElementSibling; el && !el.textContent.startsWith("Downloads");
       el = el.nextElementSibling) region.push(el);
  for (const el of article.querySelectorAll("*")) {
    if (el.tabIndex < 0) continue;
    if (document.activeElement === el) el.blur();  // focused already (autofocus): no event
    el.focus();
  }
  for (const r of region) for (const a of r.querySelectorAll("a")) a.click();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const attributes = [...document.querySelectorAll("*")].flatMap((el) => [...el.attributes]);
  return {
    title: document.title,
    h1: h1.textContent,
    description: region.slice(1).map((el) => el.textContent).join(" "),
    regionElements: region.slice(1).map((el) => el.tagName),
    nav: [...document.querySelectorAll(".md-nav--primary .md-nav__link")]
      .map((a) => a.textContent.trim()),
    typesetInText: region.filter((el) => el.querySelector("mjx-container")).length,
    typeset: document.querySelectorAll("mjx-container").length,
    handlers: attributes.filter((a) => a.name.startsWith("on")).map((a) => a.name),
    schemes: [...document.querySelectorAll("[href], [src]")]
      .map((el) => el.getAttribute("href") || el.getAttribute("src"))
      .filter((url) => /^\\s*(javascript|vbscript|data):/i.test(url)),
    embedded: document.querySelectorAll("iframe, object, embed, article img[src='x']").length,
    marker: [...document.body.childNodes].filter((n) => n.textContent === "PWNEDXSS").length,
  };
}"""


@pytest.fixture(scope="module")
def hostile_site_in_browser(hostile_site: Path, browser,
                            tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every hostile page, the home page and a notebook's rendering, in headless chromium."""
    notebook = notebook_page(hostile_site, tmp_path_factory.mktemp("notebook"))
    requests: list[str] = []
    dialogs: list[str] = []
    with opened(browser) as page:
        page.on("request", lambda request: requests.append(request.url))
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        pages = {}
        for name in TITLES:
            page.goto((hostile_site / "examples" / name / "index.html").as_uri())
            pages[name] = page.evaluate(INSPECT_EXAMPLE)
        page.goto((hostile_site / "index.html").as_uri())
        home = page.evaluate("() => [...document.querySelectorAll('article li a')]"
                             ".map((a) => a.textContent)")
        page.goto(notebook.as_uri())
        jupyter = page.evaluate(INSPECT_NOTEBOOK)
    return {"pages": pages, "home": home, "jupyter": jupyter, "requests": requests,
            "dialogs": dialogs, "site": hostile_site.as_uri(), "notebook": notebook.parent.as_uri()}


def test_no_script_runs(hostile_site_in_browser):
    assert hostile_site_in_browser["dialogs"] == []
    for name, seen in hostile_site_in_browser["pages"].items():
        assert seen["marker"] == 0, name
        assert seen["handlers"] == [] and seen["schemes"] == [], name
        assert seen["embedded"] == 0, name


def test_no_request_leaves_the_site(hostile_site_in_browser):
    own = (hostile_site_in_browser["site"] + "/", hostile_site_in_browser["notebook"] + "/")
    assert [url for url in hostile_site_in_browser["requests"] if not url.startswith(own)] == []


@pytest.mark.parametrize("name", TITLES)
def test_the_window_title_heading_and_navigation_show_the_title_as_written(
        hostile_site_in_browser, name):
    seen = hostile_site_in_browser["pages"][name]
    title = folded(TITLES[name])
    assert seen["title"] == f"{title} - {SITE_NAME}"
    assert seen["h1"] == title
    assert title in seen["nav"]
    assert seen["typesetInText"] == 0 and seen["typeset"] > 0


@pytest.mark.parametrize("name", TITLES)
def test_the_description_shows_as_paragraphs_of_its_text(hostile_site_in_browser, name):
    seen = hostile_site_in_browser["pages"][name]
    assert set(seen["regionElements"]) == {"P"}
    assert seen["description"].split() == DESCRIPTION.split()


def test_the_home_page_lists_each_title_as_written(hostile_site_in_browser):
    assert sorted(hostile_site_in_browser["home"]) == sorted(map(folded, TITLES.values()))


def test_search_holds_each_title_as_escaped_text(hostile_site):
    index = json.loads((hostile_site / "search" / "search_index.json").read_text())
    titles = {doc["location"]: doc["title"] for doc in index["docs"]}
    for name, title in TITLES.items():
        stored = titles[f"examples/{name}/"]
        assert "<" not in stored and html.unescape(stored) == folded(title)


# A notebook renders Markdown, then Jupyter's MathJax typesets the cell's text (entities
# decoded): JupyterLab's delimiters, and the site's own MathJax files.
NOTEBOOK_HTML = """<!doctype html><html><head><meta charset="utf-8"><script>
window.MathJax = {tex: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]],
  displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]], processEscapes: true,
  processEnvironments: true}};
</script><script src="MATHJAX"></script></head><body>BODY</body></html>"""
INSPECT_NOTEBOOK = """async () => {
  await MathJax.startup.promise;
  const h1 = document.querySelector("h1");
  const description = [];
  for (let el = h1.nextElementSibling; el.tagName !== "H2"; el = el.nextElementSibling)
    description.push(el);
  return {
    h1: h1.textContent,
    description: description.map((el) => el.textContent).join(" "),
    typesetInText: [h1, ...description].filter((el) => el.querySelector("mjx-container")).length,
    typeset: document.querySelectorAll("mjx-container").length,
  };
}"""


def notebook_page(site: Path, folder: Path) -> Path:
    """The TeX title's example as a notebook shows it (`_repr_markdown_`), as an HTML file."""
    source = site.parent / "examples" / "tex.toml"
    body = markdown.markdown(worked_example(source)._repr_markdown_(), extensions=["tables"])
    path = folder / "notebook.html"
    mathjax = (site / "assets" / "mathjax" / "tex-chtml.js").as_uri()
    path.write_text(NOTEBOOK_HTML.replace("MATHJAX", mathjax).replace("BODY", body))
    return path


def test_a_notebook_shows_the_title_and_description_as_text_not_math(hostile_site_in_browser):
    jupyter = hostile_site_in_browser["jupyter"]
    assert jupyter["h1"] == folded(TITLES["tex"])
    assert jupyter["description"].split() == DESCRIPTION.split()
    assert jupyter["typesetInText"] == 0 and jupyter["typeset"] > 0


# LaTeX.

@pytest.mark.parametrize("name", TITLES)
def test_the_document_holds_the_text_escaped_and_compiles(hostile_site, name, tmp_path):
    document = (hostile_site / "examples" / f"{name}.tex").read_text()
    title = folded(TITLES[name])
    assert rf"\title{{{escape_latex(title)}}}" in document
    assert escape_latex(DESCRIPTION) in document
    assert r"\input{" not in document and r"\href" not in document
    compile_tex(document, tmp_path)


# Variants.

def test_a_variant_file_keeps_the_title(hostile_site, tmp_path):
    source = hostile_site.parent / "examples" / "html.toml"
    assert main(["variants", str(source), "--count", "1", "--out", str(tmp_path / "v")]) == 0
    variant = load_example(tmp_path / "v" / "html-v1.toml")
    assert variant.title == f"{folded(TITLES['html'])} (variant 1)"


# The plugin's options.

@pytest.mark.parametrize("value, shown", [("-1", "-1"), ("13", "13"), ("1000", "1000"),
                                          ('"x"', "'x'"), ("true", "True")])
def test_a_precision_option_beyond_the_example_files_limits_is_one_line(
        project, tmp_path, value, shown):
    folder = configured(project, tmp_path, f"precision: {value}")
    result = derive_command("build", cwd=folder)
    assert result.returncode == 2
    assert result.stderr == ("mkdocs.yml: plugins: derive: precision: must be a whole number "
                             f"from 0 to 12, not {shown}\n")


@pytest.mark.parametrize("precision", [0, 12])
def test_a_precision_option_at_the_limits_builds(project, tmp_path, precision):
    folder = configured(project, tmp_path, f"precision: {precision}")
    result = derive_command("build", cwd=folder)
    assert result.returncode == 0, result.stderr
    page = (folder / "site" / "examples" / "first" / "index.html").read_text()
    entries = re.findall(r"-?\d+(?:\.\d+)?", " ".join(re.findall(
        r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", page)))
    assert entries and {len(e.partition(".")[2]) for e in entries} == {precision}


def configured(project: Path, tmp_path: Path, option: str) -> Path:
    """A copy of the project with one more option of the derive plugin."""
    folder = tmp_path / "project"
    shutil.copytree(project, folder)
    config = folder / "mkdocs.yml"
    config.write_text(config.read_text().replace(
        "      examples: examples/*.toml", f"      examples: examples/*.toml\n      {option}"))
    return folder

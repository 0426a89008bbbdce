"""Trust: hostile text is escaped, a broken example changes nothing, relu'(0) = 0 everywhere."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import sympy

from derive import derive, load_example, train
from derive.site.build import build_site
from derive.verify.expansion import expand

ROOT = Path(__file__).resolve().parents[1]
SEED = (ROOT / "examples" / "seed.toml").read_text()
HOSTILE = "<script>alert(1)</script> & $\\x$ [link](javascript:alert(2)) *not emphasis* {{ 7 }}"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_one_broken_example_among_good_ones_fails_cleanly_and_changes_nothing(built_site, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(built_site, site)
    before = snapshot(site)
    broken = tmp_path / "broken.toml"
    broken.write_text(SEED.replace("sizes = [2, 3, 1]", "sizes = [2, 3, -1]"))
    result = subprocess.run(
        [sys.executable, "-m", "derive", "build", str(ROOT / "examples" / "seed.toml"), str(broken),
         "--site-dir", str(site)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"{broken}: network.sizes[2]: must be between 1 and 4096, not -1")
    assert "Traceback" not in result.stderr
    assert snapshot(site) == before


def test_text_from_the_example_is_shown_as_text_never_as_markup(tmp_path):
    hostile = tmp_path / "hostile.toml"
    network = SEED[SEED.index("[network]"):]
    text = HOSTILE.replace("\\", "\\\\")  # a TOML basic string escapes backslashes
    hostile.write_text(f'title = "{text}"\ndescription = """{text}"""\n{network}')
    site = build_site([hostile], tmp_path / "site", ROOT / "mkdocs.yml")
    page = (site / "examples" / "hostile" / "index.html").read_text()
    assert "<script>alert" not in page
    assert 'href="javascript' not in page
    assert "<em>not emphasis</em>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    tex = (site / "examples" / "hostile.tex").read_text()
    assert r"\textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{} \& \$\textbackslash{}x\$" in tex
    index = (site / "index.html").read_text()
    assert "<script>alert" not in index


def test_relu_slope_at_an_exact_zero_is_zero_in_the_symbolic_and_numeric_paths(tmp_path):
    # Hidden unit 1's pre-activation for sample 1 is exactly 0: 0.5*0.5 + (-0.25)*1.0.
    path = tmp_path / "kink.toml"
    path.write_text(SEED.replace("X = [[0.75, 0.80], [0.20, 0.05], [-0.75, 0.80], [0.20, -0.05]]",
                                 "X = [[0.5, 1.0], [0.2, 0.4]]")
                    .replace("y = [1, 1, -1, -1]", "y = [1, -1]")
                    .replace("W1 = [[0.6, 0.01], [0.7, 0.43], [0.0, 0.88]]",
                             "W1 = [[0.5, -0.25], [0.7, 0.43], [0.0, 0.88]]"))
    example = load_example(path)
    derivation = derive(example.network)
    step = train(example)[0]
    assert step.values["S1"][0, 0] == 0.0
    expansion = expand(derivation, example)
    weights = {symbol: sympy.Rational(str(value)) for name, symbols in expansion.weights.items()
               for symbol, value in zip(symbols, example.parameters[name].ravel())}
    exact = np.array(expansion.elementwise["W1"].subs(weights), dtype=float)
    np.testing.assert_allclose(step.gradients["W1"], exact, rtol=1e-14)
    assert not step.gradients["W1"][0].any()  # unit 1 is dead on sample 1 and negative on sample 2

/* MathJax configuration for a site with derive's pages (MathJax itself is served from the site,
 * not a CDN); the derive plugin loads this script before MathJax.
 *
 * pymdownx.arithmatex (generic mode) wraps each formula in an element of class "arithmatex",
 * delimited by \( \) or \[ \]; MathJax processes those elements only. MathJax's own start-up
 * typeset is off: a locally served MathJax racing Material's document$ leaves blank glyphs, so
 * every typeset runs from document$, queued behind MathJax's start-up promise.
 */
let mathReady;
let typesetQueue = new Promise((resolve) => { mathReady = resolve; });

window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
  startup: {
    typeset: false,
    ready() {
      MathJax.startup.defaultReady();
      MathJax.startup.promise.then(mathReady);
    },
  },
};

/* Typeset each page shown: with Material, the first one and any reached by instant navigation
 * (its document$); with other themes, the page once loaded. */
function typesetPage() {
  typesetQueue = typesetQueue.then(() => {
    MathJax.startup.output.clearCache();
    MathJax.typesetClear();
    MathJax.texReset();
    return MathJax.typesetPromise().then(addCopyButtons);
  });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(typesetPage);
} else if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", typesetPage);
} else {
  typesetPage();
}

/* A "copy LaTeX" button under each displayed formula: a matrix copies its bmatrix, a derivation
 * line or a number (L) its whole TeX; and one after each step's heading copies the step. Each
 * copies the formulas as shown when clicked (the reader's numbers, once edited). */
function addCopyButtons() {
  const steps = new Map();
  for (const item of MathJax.startup.document.math) {
    const block = item.typesetRoot && item.typesetRoot.closest("div.arithmatex");
    if (!block) continue;
    const heading = stepHeading(block);
    if (heading) steps.set(heading, [...(steps.get(heading) || []), block]);
    if (block.nextElementSibling?.classList.contains("derive-copy")) continue;
    const matrix = bmatrixOf(texOf(block));
    const title = matrix ? "Copy this matrix as a LaTeX bmatrix" : "Copy this formula as LaTeX";
    block.after(copyButton("copy LaTeX", () => bmatrixOf(texOf(block)) || texOf(block), title));
  }
  for (const [heading, blocks] of steps) {
    if (heading.querySelector(".derive-copy")) continue;
    const text = () => blocks.map((block) => `\\[\n${texOf(block)}\n\\]`).join("\n");
    heading.append(" ", copyButton("copy step as LaTeX", text, "Copy every formula of this step"));
  }
}

/* The TeX a formula's element shows now. */
function texOf(block) {
  const item = MathJax.startup.document.getMathItemsWithin(block)[0];
  return item ? item.math.trim() : "";
}

/* The first bmatrix of some TeX, or null. */
function bmatrixOf(tex) {
  const matrix = tex.match(/\\begin\{bmatrix\}[\s\S]*?\\end\{bmatrix\}/);
  return matrix ? matrix[0] : null;
}

/* The "Step k: the numbers" heading a block belongs to, or null (a recomputed quantity's
 * block sits in its container). */
function stepHeading(block) {
  let node = block.closest(".derive-live") || block;
  while ((node = node.previousElementSibling)) {
    if (node.tagName === "H2") return /^step-\d+/.test(node.id) ? node : null;
  }
  return null;
}

function copyButton(label, text, title) {
  const button = document.createElement("button");
  button.className = "derive-copy md-button";
  button.type = "button";
  button.textContent = label;
  button.title = title;
  button.addEventListener("click", () => copy(text(), button, label));
  return button;
}

function copy(text, button, label) {
  const done = () => {
    button.textContent = "copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
  done();
}

/* ---- Live numbers: the reader edits an example's numbers and the page recomputes them ----
 *
 * On an interactive example page (an element .derive-edit naming the example, whose script
 * examples/NAME.js registered its chain rule with derive-runtime.js), a panel of inputs holds
 * the example file's numbers. Each edit trains the example again in the page, and every element
 * with data-derive-quantity whose value changed gets its new value (data-derive-value) and its
 * TeX at the page's precision, typeset again on its own, and the warning of pre-activations
 * within rounding of a kink lists the edited run's. The edits live in the address (#edits=...),
 * so a reload or a shared link shows the same numbers; reset restores the file's.
 */
const EDITS = "#edits=";
const LABELS = { X: "X, a row per sample", y: "y, a row per sample",
                 learning_rate: "learning rate η", momentum: "momentum μ",
                 dampening: "dampening", weight_decay: "weight decay λ" };
const SETTINGS = new Set(["learning_rate", "training.momentum", "training.dampening",
                          "training.weight_decay"]);

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", startLivePage);
} else {
  startLivePage();
}

function startLivePage() {
  const panel = document.querySelector(".derive-edit[data-derive-example]");
  if (!panel || !window.derive || !derive.example) return;
  const example = derive.example(panel.dataset.deriveExample);
  const [limit, head, tail] = panel.dataset.deriveElide.split(" ").map(Number);
  const page = {
    example, panel, file: example.file(), inputs: {}, timer: null, original: new Map(),
    precision: Number(panel.dataset.derivePrecision), elide: { limit, head, tail },
    elements: [...document.querySelectorAll("[data-derive-quantity]")],
    hands: [...document.querySelectorAll("[data-derive-hand]")], handsShown: new Map(),
    edges: [...document.querySelectorAll(".derive-network [data-derive-weight]")],
    edgesShown: new Map(), curve: document.querySelector(`img[src$="/${example.name}-loss.svg"]`),
  };
  page.curveOriginal = page.curve && { src: page.curve.src, alt: page.curve.alt };
  const kinks = document.querySelector(".derive-kinks");
  page.kinks = kinks && { box: kinks, hidden: kinks.hidden, list: kinks.querySelector("ul"),
                          shown: null, live: null };
  buildPanel(page);
  derive.page = { example: example.name, edits: {}, settled: Promise.resolve(),
                  update: () => update(page), reset: () => reset(page) };
  const check = document.querySelector(".derive-check[data-derive-example]");
  if (check) buildCheck(page, check);
  if (location.hash.startsWith(EDITS)) {
    try {
      fill(page, JSON.parse(decodeURIComponent(location.hash.slice(EDITS.length))));
    } catch (err) {
      showError(page, `the edits in this page's address cannot be read: ${err.message}`);
      return;
    }
    update(page);
  }
}

/* The panel: a table of inputs per matrix of the example file, the settings, a reset button. */
function buildPanel(page) {
  const box = element("details", { className: "note derive-panel", open: true });
  box.append(element("summary", { textContent: "Edit the numbers" }),
             element("p", { textContent: "Type your own data, weights or settings: every "
               + "number of the steps below, the hand calculations, the weights on the network "
               + "diagram, the loss table and curve and the final weights are computed again in "
               + "this page, by the chain rule printed as JavaScript at the end of the page." }));
  const grid = element("div", { className: "derive-inputs" });
  for (const [key, value] of Object.entries(page.file)) {
    // Settings the example does not use have no field, nor has a switch (Nesterov's).
    const unused = { momentum: !page.example.momentum, dampening: !page.example.momentum,
                     weight_decay: !page.example.weightDecay };
    if (unused[key] || typeof value === "boolean") continue;
    const field = element("fieldset", {});
    field.append(element("legend", { textContent: LABELS[key] || key }));
    const rows = Array.isArray(value) ? (Array.isArray(value[0]) ? value : [value]) : [[value]];
    const table = element("table", { className: "derive-grid" });
    page.inputs[key] = rows.map((row, i) => {
      const line = table.insertRow();
      return row.map((entry, j) => {
        const input = element("input", { type: "text", inputMode: "decimal", value: String(entry),
                                         size: 7, spellcheck: false });
        input.setAttribute("aria-label", `${key} entry ${i + 1}, ${j + 1}`);
        input.addEventListener("input", () => schedule(page));
        line.insertCell().append(input);
        return input;
      });
    });
    field.append(table);
    grid.append(field);
  }
  const button = element("button", { type: "button", className: "md-button derive-reset",
                                     textContent: "Reset to the file's numbers" });
  button.addEventListener("click", () => reset(page));
  page.error = element("p", { className: "derive-error", hidden: true });
  page.error.setAttribute("role", "alert");
  box.append(grid, element("p", {}, [button]), page.error);
  page.panel.append(box);
}

function element(tag, properties, children = []) {
  const node = Object.assign(document.createElement(tag), properties);
  node.append(...children);
  return node;
}

/* Recompute shortly after the reader stops typing. */
function schedule(page) {
  clearTimeout(page.timer);
  page.timer = setTimeout(() => update(page), 150);
}

/* Put `edits` (the example file's keys and shapes) into the inputs. */
function fill(page, edits) {
  for (const [key, value] of Object.entries({ ...page.file, ...edits })) {
    const inputs = page.inputs[key];
    if (!inputs) continue;
    const rows = Array.isArray(value) ? (Array.isArray(value[0]) ? value : [value]) : [[value]];
    inputs.forEach((row, i) => row.forEach((input, j) => {
      if (rows[i] !== undefined && rows[i][j] !== undefined) input.value = String(rows[i][j]);
    }));
  }
}

/* The inputs' numbers in the example file's shapes, for the keys that differ from the file. */
function readEdits(page) {
  const edits = {};
  for (const [key, inputs] of Object.entries(page.inputs)) {
    const rows = inputs.map((row) => row.map((input) => {
      const text = input.value.trim(), number = Number(text);
      const bad = text === "" || !Number.isFinite(number);
      input.setAttribute("aria-invalid", String(bad));
      if (bad) {
        throw new Error(`${LABELS[key] || key}: ${JSON.stringify(input.value)} is not a number`);
      }
      return number;
    }));
    const file = page.file[key];
    const value = !Array.isArray(file) ? rows[0][0] : Array.isArray(file[0]) ? rows : rows[0];
    if (JSON.stringify(value) !== JSON.stringify(file)) edits[key] = value;
  }
  return edits;
}

/* Train again with the inputs' numbers and show every changed value. */
function update(page) {
  clearTimeout(page.timer);
  let edits, run;
  try {
    edits = readEdits(page);
  } catch (err) {
    showError(page, err.message);
    return derive.page.settled;
  }
  derive.page.edits = edits;
  const address = location.pathname + location.search;
  const fragment = `${EDITS}${encodeURIComponent(JSON.stringify(edits))}`;
  history.replaceState(history.state, "", Object.keys(edits).length ? address + fragment : address);
  try {
    run = page.example.run(edits);
  } catch (err) {
    showError(page, err.message);
    return derive.page.settled;
  }
  showError(page, "");
  recheck(page);
  showKinks(page, run.values);
  const changes = [];
  for (const node of page.elements) {
    const value = run.quantity(node.dataset.deriveQuantity, Number(node.dataset.deriveStep || 0));
    node.classList.toggle("derive-absent", value === undefined);
    if (value === undefined || same(JSON.parse(node.dataset.deriveValue), value)) continue;
    changes.push({ node, value });
  }
  for (const edge of page.edges) {
    const decimals = Number(edge.closest("[data-derive-precision]").dataset.derivePrecision);
    writeEdge(page, edge, fixed(run.quantity(edge.dataset.deriveWeight, 1), decimals));
  }
  if (page.curve) {
    const losses = run.values.steps.map((step) => step.loss);
    const src = `data:image/svg+xml,${encodeURIComponent(lossCurve(losses))}`;
    if (page.curve.src !== src) Object.assign(page.curve, { src, alt: lossAlt(losses) });
  }
  for (const node of page.hands) {
    const text = handTex(JSON.parse(node.dataset.deriveHand), run, page.precision);
    if (page.handsShown.get(node) === text) continue;
    page.handsShown.set(node, text);
    changes.push({ node, text });
  }
  document.body.classList.toggle("derive-edited", Object.keys(edits).length > 0);
  return show(page, changes);
}

/* Back to the example file's numbers, as the page was built. */
function reset(page) {
  fill(page, page.file);
  for (const input of Object.values(page.inputs).flat(2)) input.removeAttribute("aria-invalid");
  history.replaceState(history.state, "", location.pathname + location.search);
  derive.page.edits = {};
  showError(page, "");
  recheck(page);
  showKinks(page, null);
  document.body.classList.remove("derive-edited");
  const changes = [];
  for (const node of page.elements) {
    node.classList.remove("derive-absent");
    const original = page.original.get(node);
    if (original && original.value !== node.dataset.deriveValue) {
      changes.push({ node, value: null });
    }
  }
  for (const node of page.handsShown.keys()) changes.push({ node, text: null });
  for (const [edge, original] of page.edgesShown) writeEdge(page, edge, original);
  if (page.curve) Object.assign(page.curve, page.curveOriginal);
  page.handsShown.clear();
  return show(page, changes);
}

/* Write a weight on its edge of the network diagram, in its tooltip and its label, as
 * derive/present/figures.py does (with a minus sign for a hyphen); the diagram's own weight is
 * remembered at the first change. */
function writeEdge(page, edge, number) {
  const weight = edge.querySelector(".weight"), text = number.replace(/-/g, "\u2212");
  if (!page.edgesShown.has(edge)) page.edgesShown.set(edge, weight.textContent);
  if (weight.textContent === text) return;
  weight.textContent = text;
  const titled = (title) => title.replace(/ = [^:]*:/, ` = ${text}:`);
  const title = edge.querySelector("title");
  title.textContent = titled(title.textContent);
  if (edge.hasAttribute("aria-label")) {
    edge.setAttribute("aria-label", titled(edge.getAttribute("aria-label")));
  }
}

/* The warning "Within rounding of a kink" (example.md.j2) with the near kinks of `values`, an
 * answer key as `derive values` writes it, listed as derive/present/view.py writes them, and
 * hidden when there are none; with null, the example file's, as the page was built. */
function showKinks(page, values) {
  const kinks = page.kinks;
  if (!kinks) return;
  const found = values && values.steps.flatMap((step, i) => (step.near_kinks || []).map((k) => [
    `step ${i + 1}: `, `${kinkEntry(k.quantity, k.entry)} = ${scientific(k.value, 2)}`,
    scientific(k.bound)]));
  const text = JSON.stringify(found);
  if (text === kinks.shown) return;
  kinks.shown = text;
  const old = kinks.live;
  const math = (tex) => element("span", { className: "arithmatex", textContent: `\\(${tex}\\)` });
  kinks.live = found && found.length ? element("ul", {}, found.map(([step, entry, bound]) =>
    element("li", {}, [step, math(entry), ", rounding error up to ", math(bound)]))) : null;
  if (old) old.remove();
  if (kinks.live) kinks.box.querySelector(".admonition").append(kinks.live);
  if (kinks.list) kinks.list.hidden = Boolean(found);
  kinks.box.hidden = found ? !found.length : kinks.hidden;
  const maths = kinks.live ? [...kinks.live.querySelectorAll(".arithmatex")] : [];
  typesetQueue = typesetQueue.then(() => {
    if (old) MathJax.typesetClear([...old.querySelectorAll(".arithmatex")]);
    return maths.length ? MathJax.typesetPromise(maths) : null;
  });
}

/* An entry of a pre-activation or of the hinge margins (a dotted path of a step's values, its
 * row and column from 0) as derive/present/notation.py's `entry` writes it: S^{[1]}_{1,2},
 * M_{2,3}. */
function kinkEntry(quantity, [row, column]) {
  const name = quantity.split(".").pop(), layered = name.match(/^([A-Za-z]+)(\d+)$/);
  const base = layered ? `${layered[1]}^{[${layered[2]}]}` : name;
  return `${base}_{${row + 1},${column + 1}}`;
}

/* derive/present/latex.py's `scientific`: a number as TeX in scientific notation with `digits`
 * decimals, 1.0 \times 10^{-5} (0 as 0), by the same steps (a power of ten as Python's
 * 10 ** exponent, the nearest double). */
function scientific(value, digits = 1) {
  if (value === 0) return "0";
  let exponent = Math.floor(Math.log10(Math.abs(value)));
  // Below 1e-300, 10^exponent would underflow (a subnormal value): scale in two steps.
  let mantissa = exponent < -300 ? value * 1e300 / Number(`1e${exponent + 300}`)
    : value / Number(`1e${exponent}`);
  if (Number(fixed(Math.abs(mantissa), digits)) >= 10) {
    [mantissa, exponent] = [mantissa / 10, exponent + 1];
  }
  return `${fixed(mantissa, digits)} \\times 10^{${exponent}}`;
}

function showError(page, message) {
  page.error.textContent = message;
  page.error.hidden = !message;
  if (page.curve) page.curve.hidden = Boolean(message);
  document.body.classList.toggle("derive-failed", Boolean(message));
}

/* Give each changed element (`{node, value}`) its value and its TeX (or text), or (`{node,
 * text}`) the TeX given, and typeset only those again; a null value or text restores the
 * page's own. */
function show(page, changes) {
  const settled = typesetQueue.then(() => {
    const maths = [];
    for (const change of changes) {
      const { node, value } = change;
      const math = node.querySelector(".arithmatex");
      const original = remember(page, node, math);
      let text = change.text === undefined ? undefined : change.text ?? original.text;
      if (text === undefined) {
        node.dataset.deriveValue = value === null ? original.value : JSON.stringify(value);
        text = value === null ? original.text : math
          ? retex(original.text, value, node.dataset.deriveQuantity, page)
          : fixed(value, page.precision);
      }
      if (!math) {
        node.textContent = text;
        continue;
      }
      MathJax.typesetClear([math]);
      math.textContent = original.display ? `\\[${text}\\]` : `\\(${text}\\)`;
      maths.push(math);
    }
    return maths.length ? MathJax.typesetPromise(maths) : null;
  });
  typesetQueue = settled.catch(() => {});
  derive.page.settled = settled;
  return settled;
}

/* An element's value and TeX (or text) as the page was built, kept at its first change. */
function remember(page, node, math) {
  if (!page.original.has(node)) {
    const item = math && MathJax.startup.document.getMathItemsWithin(math)[0];
    const raw = math ? math.textContent.trim() : node.textContent;
    page.original.set(node, {
      value: node.dataset.deriveValue,
      text: item ? item.math.trim() : math ? raw.slice(2, -2).trim() : raw,
      display: item ? item.display : raw.startsWith("\\["),
    });
  }
  return page.original.get(node);
}

/* The TeX of a shown quantity with a new value: its bmatrix, or the number after " = ". */
function retex(tex, value, quantity, page) {
  if (bmatrixOf(tex)) {
    return tex.replace(/\\begin\{bmatrix\}[\s\S]*?\\end\{bmatrix\}/, () => matrixTex(value, page));
  }
  const number = SETTINGS.has(quantity) ? setting(value) : fixed(value, page.precision);
  return `${tex.slice(0, tex.indexOf(" = "))} = ${number}`;
}

/* A hand calculation (derive/present/calculations.py's `hand_calculation`, its `live` data) as
 * the page writes it (macros.j2's `hand_rows`) with the numbers of `run`'s first step: each
 * term's factors at the page's precision, their sum exactly as shown, and the entry's value. */
function handTex(hand, run, precision) {
  const factor = (f) => (typeof f === "string" ? f : fixed(run.entry(1, ...f), precision));
  const product = (term) => term.map((f) => (f.startsWith("-") ? `(${f})` : f)).join(" \\cdot ");
  const factors = hand.terms.map((term) => term.map(factor));
  const numbers = factors.map(product);
  if (hand.last) numbers.push("\\cdots", product(hand.last.map(factor)));
  const sum = hand.last ? null : exactSum(factors);
  const result = fixed(run.entry(1, hand.name, 0, 0), precision);
  const lines = hand.formula.map((line, i) => (i ? `&\\quad ${line} \\\\`
                                                 : `${hand.entry} &= ${line} \\\\`));
  for (let i = 0; i < numbers.length; i += hand.per_line) {
    const line = numbers.slice(i, i + hand.per_line).join(" + ");
    lines.push(i ? `&\\quad {} + ${line} \\\\` : `&= ${line} \\\\`);
  }
  if (sum === null) {
    lines.push(`&\\approx ${result}`);
  } else {
    lines.push(`&= ${sum} &&\\text{(the terms as shown)} \\\\`,
               `&\\approx ${result} &&\\text{(from unrounded numbers)}`);
  }
  return `\\begin{aligned}\n${lines.join("\n")}\n\\end{aligned}`;
}

/* The sum of the products of factors written as decimals or TeX fractions of integers, in
 * exact arithmetic, as the shortest decimal (calculations.py's `_exact_sum`); null when a
 * factor is not such a number or the sum has no finite decimal expansion. */
function exactSum(terms) {
  let numerator = 0n, denominator = 1n;
  for (const factors of terms) {
    let top = 1n, bottom = 1n;
    for (const factor of factors) {
      const fraction = fractionOf(factor);
      if (!fraction) return null;
      top *= fraction[0];
      bottom *= fraction[1];
    }
    [numerator, denominator] = [numerator * bottom + top * denominator, denominator * bottom];
  }
  const divisor = gcd(numerator < 0n ? -numerator : numerator, denominator);
  [numerator, denominator] = [numerator / divisor, denominator / divisor];
  let rest = denominator, twos = 0, fives = 0;
  for (; rest % 2n === 0n; twos++) rest /= 2n;
  for (; rest % 5n === 0n; fives++) rest /= 5n;
  if (rest !== 1n) return null;
  const places = Math.max(twos, fives);
  const scaled = numerator * 10n ** BigInt(places) / denominator;
  const digits = (scaled < 0n ? -scaled : scaled).toString().padStart(places + 1, "0");
  const whole = digits.slice(0, digits.length - places);
  const decimals = digits.slice(digits.length - places).replace(/0+$/, "");
  return `${scaled < 0n ? "-" : ""}${whole}${decimals ? `.${decimals}` : ""}`;
}

/* A factor as written, as [numerator, denominator] (the denominator positive), or null: a
 * decimal, or a TeX fraction of integers such as \\frac{1}{4}, after any minus signs. */
function fractionOf(text) {
  const sign = text.startsWith("-") ? -1n : 1n;
  const body = text.replace(/^[- ]+/, "");
  const fraction = body.match(/^\\frac\{(\d+)\}\{(\d+)\}$/);
  if (fraction) {
    const denominator = BigInt(fraction[2]);
    return denominator ? [sign * BigInt(fraction[1]), denominator] : null;
  }
  const decimal = body.match(/^(\d*)(?:\.(\d*))?$/);
  if (!decimal || !(decimal[1] || decimal[2])) return null;
  const places = (decimal[2] || "").length;
  return [sign * BigInt((decimal[1] || "0") + (decimal[2] || "")), 10n ** BigInt(places)];
}

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a || 1n;
}

/* Rows (a flat list is a column) as the page's bmatrix: derive/present/latex.py's `bmatrix`. */
function matrixTex(value, page) {
  const table = Array.isArray(value)
    ? value.map((row) => (Array.isArray(row) ? row : [row])) : [[value]];
  const { limit, head, tail } = page.elide;
  const rows = kept(table.length, limit, head, tail);
  const columns = kept(table[0].length, limit, head, tail);
  const lines = rows.map((i) => columns.map((j) => {
    if (j === null) return i === null ? "\\ddots" : "\\cdots";
    return i === null ? "\\vdots" : fixed(table[i][j], page.precision);
  }).join(" & "));
  return `\\begin{bmatrix}${lines.join(" \\\\ ")}\\end{bmatrix}`;
}

/* The indices shown along a side of n entries; null stands for the elided ones. */
function kept(n, limit, head, tail) {
  const range = (from, to) => Array.from({ length: to - from }, (_, i) => from + i);
  return n <= limit ? range(0, n) : [...range(0, head), null, ...range(n - tail, n)];
}

/* Python's f"{x:.{precision}f}": the exact value rounded, ties to even, never -0.000. */
function fixed(x, precision) {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const magnitude = Math.abs(x);
  let text;
  if (magnitude >= 1e21) {
    text = BigInt(magnitude).toString() + (precision ? `.${"0".repeat(precision)}` : "");
  } else {
    text = magnitude.toFixed(precision);
    // toFixed takes a tie away from zero; Python to the even digit.
    const exact = magnitude.toFixed(100), point = exact.indexOf(".");
    const end = precision ? point + 1 + precision : point;
    if (/^50*$/.test(exact.slice(point + 1 + precision)) && Number(exact[end - 1]) % 2 === 0) {
      text = exact.slice(0, end);
    }
  }
  return x < 0 && Number(text) !== 0 ? `-${text}` : text;
}

/* ---- The loss curve drawn again, as figures.py's `loss_curve` and loss.svg.j2 draw it ---- */

/* The loss before each SGD step as derive draws it, the same SVG text: a line chart with about
 * five round ticks on each axis. Numbers are written as Python writes them (a whole float with
 * ".0"), rounded as Python's round(), which rounds the exact value. */
function lossCurve(losses) {
  const [width, height, left, right, top, bottom] = [640, 300, 70, 620, 16, 252];
  const round = (x, places) => Number(fixed(x, places));
  const float = (x) => (Number.isInteger(x) ? `${x}.0` : String(x));
  const [yTicks, yStep] = niceTicks(Math.min(0, ...losses), Math.max(...losses), false);
  const [low, high] = [yTicks[0], yTicks[yTicks.length - 1]];
  const [xTicks] = niceTicks(1, losses.length, true);
  const x = (step) => round(left + (step - 1) / Math.max(losses.length - 1, 1) * (right - left), 1);
  const y = (loss) => round(bottom - (loss - low) / ((high - low) || 1) * (bottom - top), 1);
  const decimals = yStep < 1 ? Math.max(0, -Math.floor(Math.log10(yStep))) : 0;
  const points = losses.map((loss, i) => [x(i + 1), y(loss)]);
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" `
      + `height="${height}" role="img" aria-labelledby="title">`,
    `<title id="title">${escapeHtml(lossAlt(losses))}</title>`,
    "<style>", ".axis { stroke: #616161; stroke-width: 1; }",
    ".grid { stroke: #e0e0e0; stroke-width: 1; }",
    ".curve { fill: none; stroke: #3f51b5; stroke-width: 2; }", ".point { fill: #3f51b5; }",
    "text { font-family: sans-serif; font-size: 12px; fill: #424242; }", "</style>",
    `<rect width="${width}" height="${height}" fill="#fff"/>`];
  for (const tick of yTicks) {
    const at = y(tick);
    lines.push(`<line class="grid" x1="${left}" y1="${float(at)}" x2="${right}" `
               + `y2="${float(at)}"/>`,
               `<text x="${left - 8}" y="${float(at + 4)}" text-anchor="end">`
               + `${fixed(tick, decimals)}</text>`);
  }
  for (const tick of xTicks.filter((t) => t >= 1 && t <= losses.length)) {
    const at = float(x(tick));
    lines.push(`<line class="axis" x1="${at}" y1="${bottom}" x2="${at}" y2="${bottom + 5}"/>`,
               `<text x="${at}" y="${bottom + 19}" text-anchor="middle">`
               + `${general(tick, 6)}</text>`);
  }
  const polyline = points.map((point) => point.map(float).join(",")).join(" ");
  lines.push(`<line class="axis" x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}"/>`,
             `<line class="axis" x1="${left}" y1="${top}" x2="${left}" y2="${bottom}"/>`,
             `<polyline class="curve" points="${polyline}"/>`);
  if (points.length <= 30) {
    for (const [px, py] of points) {
      lines.push(`<circle class="point" cx="${float(px)}" cy="${float(py)}" r="3"/>`);
    }
  }
  const middle = float((top + bottom) / 2);
  lines.push(`<text x="${float((left + right) / 2)}" y="${height - 6}" text-anchor="middle">`
             + "SGD step</text>",
             `<text x="14" y="${middle}" text-anchor="middle" transform="rotate(-90 14 ${middle})">`
             + "loss L</text>", "</svg>");
  return `${lines.join("\n")}\n`;
}

/* The loss curve in words, for its alt text (figures.py's `loss_alt`). */
function lossAlt(losses) {
  return `Loss before each of the ${losses.length} SGD steps, from ${general(losses[0], 4)} `
    + `to ${general(losses[losses.length - 1], 4)}`;
}

/* About five round ticks covering [low, high], steps of 1, 2 or 5 times 10^k (figures.py's
 * `_nice_ticks`), and the step. */
function niceTicks(low, high, whole) {
  const span = (high - low) || Math.abs(high) || 1;
  const raw = span / 5, magnitude = Number(`1e${Math.floor(Math.log10(raw))}`);
  let step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  if (whole) step = Math.max(1, Number(fixed(step, 0)));
  const first = Math.floor(low / step) * step;
  const count = Math.ceil((high - first) / step - 1e-9);
  return [Array.from({ length: count + 1 }, (_, i) => Number(fixed(first + i * step, 12))), step];
}

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&#34;").replace(/'/g, "&#39;");
}

/* A setting (η, μ, λ) as derive/present/latex.py's `setting`: six significant digits. */
function setting(x) {
  const [mantissa, exponent] = general(x, 6).split("e");
  return exponent === undefined ? mantissa : `${mantissa} \\times 10^{${Number(exponent)}}`;
}

/* Python's f"{x:.{digits}g}" for a finite x: `digits` significant digits of the exact value,
 * ties to even, in positional notation unless the exponent is below -4 or `digits` or more,
 * trailing zeros dropped. */
function general(x, digits) {
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  if (x === 0) return `${sign}0`;
  // 100 significant digits: a double's decimal expansion, as far as a tie can reach.
  const [written, power] = Math.abs(x).toExponential(99).split("e");
  const all = written.replace(".", ""), rest = all.slice(digits);
  let kept = all.slice(0, digits), exponent = Number(power);
  if (rest[0] > "5" || (rest[0] === "5" && (/[1-9]/.test(rest.slice(1)) || kept.at(-1) % 2))) {
    kept = String(BigInt(kept) + 1n);
    if (kept.length > digits) [kept, exponent] = [kept.slice(0, digits), exponent + 1];
  }
  const strip = (text) => text.replace(/\.?0+$/, "");
  if (exponent < -4 || exponent >= digits) {
    const mantissa = kept.length > 1 ? strip(`${kept[0]}.${kept.slice(1)}`) : kept;
    const shown = String(Math.abs(exponent)).padStart(2, "0");
    return `${sign}${mantissa}e${exponent < 0 ? "-" : "+"}${shown}`;
  }
  const text = exponent >= 0
    ? `${kept.slice(0, exponent + 1)}.${kept.slice(exponent + 1)}`
    : `0.${"0".repeat(-exponent - 1)}${kept}`;
  return sign + (text.endsWith(".") ? text.slice(0, -1) : strip(text));
}

/* Whether two values (numbers, or nested lists of them) are equal entry by entry. */
function same(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length
      && a.every((x, i) => same(x, b[i]));
  }
  return a === b;
}

/* ---- Check your own numbers: the reader types a quantity of a step and each entry is marked ----
 *
 * In the section .derive-check the reader picks a step and a quantity (from the structure of
 * the step's values), types or pastes a matrix, and `derive.example(name).mark()` marks each
 * entry against the page's values with the reader's edits: right, following from the reader's
 * own earlier numbers of the step (every quantity checked before is remembered, by step), or
 * wrong, with the common mistake it matches named beside the formula it changes.
 */
const QUANTITY_GROUPS = [["loss", "The loss"], ["intermediates", "Forward and backward"],
                         ["gradients", "Gradients"], ["velocity", "Velocity"],
                         ["updated", "Updated parameters"]];
const MARKS = { right: ["✓", "right"], follows: ["↪", "follows from your numbers"],
                wrong: ["✗", "wrong"] };

/* The form, its result and the reader's remembered numbers (`page.own[step][path]`). */
function buildCheck(page, section) {
  const steps = Number(section.dataset.deriveSteps);
  const values = page.example.values({}).steps[0];
  const id = (name) => `derive-check-${name}`;
  const form = element("form", { className: "derive-check-form", noValidate: true });
  const step = element("select", { id: id("step") }, Array.from({ length: steps },
    (_, i) => element("option", { value: String(i + 1), textContent: `Step ${i + 1}` })));
  const quantity = element("select", { id: id("quantity") }, QUANTITY_GROUPS
    .filter(([group]) => values[group] !== undefined)
    .map(([group, title]) => element("optgroup", { label: title }, group === "loss"
      ? [element("option", { value: "loss", textContent: "L, the loss" })]
      : Object.keys(values[group]).map((name) => element("option", {
        value: `${group}.${name}`, textContent: quantityLabel(group, name, page) })))));
  const text = element("textarea", { id: id("entered"), rows: 4, spellcheck: false });
  text.setAttribute("autocapitalize", "off");
  const useOwn = element("input", { type: "checkbox", id: id("own"), checked: true });
  const own = element("span", { className: "derive-own" });
  const forget = element("button", { type: "button", className: "derive-forget",
                                     textContent: "forget them" });
  const result = element("div", { className: "derive-check-result" });
  result.setAttribute("aria-live", "polite");
  form.append(
    element("div", { className: "derive-check-choice" }, [
      element("label", { htmlFor: id("step"), textContent: "Step" }), step,
      element("label", { htmlFor: id("quantity"), textContent: "Quantity" }), quantity]),
    element("label", { htmlFor: id("entered"), textContent: "Your numbers: entries apart by "
      + "spaces, commas or &, rows on new lines or apart by \\\\; a LaTeX bmatrix works too" }),
    text,
    element("p", { className: "derive-own-choice" }, [useOwn, " ", element("label", {
      htmlFor: id("own"), textContent: "Mark against my earlier numbers of this step too" })]),
    element("p", { className: "derive-own-choice" }, ["Remembered for this step: ", own, " ",
                                                      forget]),
    element("button", { type: "submit", className: "md-button md-button--primary",
                        textContent: "Check" }));
  const docs = document.querySelector("nav a[href*='check-your-numbers']");
  if (docs) {
    const link = element("a", { href: docs.getAttribute("href"),
                                textContent: "How entries are marked" });
    section.append(element("p", {}, [link, "."]));
  }
  section.append(form, result);
  page.check = { step, quantity, text, useOwn, own, forget, result, last: null };
  page.own = {};
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    page.check.last = { step: Number(step.value), quantity: quantity.value, text: text.value };
    check(page, page.check.last, true);
  });
  step.addEventListener("change", () => showOwn(page));
  forget.addEventListener("click", () => {
    delete page.own[step.value];
    showOwn(page);
  });
  showOwn(page);
}

/* A quantity's name as the select shows it: W[1], δ[2], ∂L/∂W[1], W[1] after the update. */
function quantityLabel(group, name, page) {
  const layered = (text) => text.replace(/^delta/, "δ").replace(/(\d+)$/, "[$1]");
  const parts = name.match(/^d([LRJ])_d(\w+)$/);
  if (parts) return `∂${parts[1]}/∂${layered(parts[2])}`;
  const objective = page.file.weight_decay > 0 ? "J" : "L";
  if (group === "gradients") return `∂${objective}/∂${layered(name)}`;
  if (group === "velocity") return `velocity of ${layered(name)}`;
  return group === "updated" ? `${layered(name)} after the update` : layered(name);
}

/* The reader's remembered quantities of the chosen step, by label. */
function showOwn(page) {
  const { step, own, forget } = page.check;
  const mine = Object.keys(page.own[step.value] || {});
  own.textContent = mine.length
    ? mine.map((path) => labelOf(page, path)).join(", ") : "none checked yet";
  forget.hidden = !mine.length;
}

function labelOf(page, path) {
  const [group, name] = path.split(".");
  return group === "loss" ? "L" : quantityLabel(group, name, page);
}

/* Mark `asked` ({step, quantity, text}) and show the marks; `remember` keeps the numbers as the
 * reader's own for later checks of the step. */
function check(page, asked, remember) {
  const { result, useOwn } = page.check;
  const mine = page.own[asked.step] || {};
  let rows, marked;
  try {
    rows = parseMatrix(asked.text);
    const own = useOwn.checked ? { ...mine } : {};
    delete own[asked.quantity];
    marked = page.example.mark({ step: asked.step, quantity: asked.quantity, entered: rows,
                                 own, edits: derive.page.edits });
  } catch (err) {
    const message = `${labelOf(page, asked.quantity)}: ${err.message}`;
    showResult(result, [element("p", { className: "derive-error", textContent: message })]);
    return;
  }
  if (remember) {
    page.own[asked.step] = { ...mine, [asked.quantity]: rows };
    showOwn(page);
  }
  showResult(result, marksOf(page, asked, rows, marked));
}

/* Put `parts` in place of the result shown, typesetting their formulas and forgetting those of
 * the result they replace. */
function showResult(result, parts) {
  const old = [...result.querySelectorAll(".arithmatex")];
  result.replaceChildren(...parts);
  const maths = [...result.querySelectorAll(".arithmatex")];
  if (old.length || maths.length) {
    typesetQueue = typesetQueue.then(() => {
      if (old.length) MathJax.typesetClear(old);
      return maths.length ? MathJax.typesetPromise(maths) : null;
    });
  }
}

/* Mark the last check again with the page's new values (after an edit or a reset). */
function recheck(page) {
  if (page.check && page.check.last) check(page, page.check.last, false);
}

/* The marks as a grid of the typed entries, a count, a legend, and the mistake if one; a row
 * typed for a column (a bias), or a column for a row, is shown as it was marked. */
function marksOf(page, asked, typed, { right, follows, mistake }) {
  const rows = typed.length === right.length ? typed
    : typed[0].map((_, j) => typed.map((line) => line[j]));
  const kinds = right.map((line, i) => line.map((ok, j) => (ok ? "right"
    : follows && follows[i][j] ? "follows" : "wrong")));
  const table = element("table", { className: "derive-marks" });
  table.append(element("caption", { textContent: `Your ${labelOf(page, asked.quantity)}, `
                                                 + `step ${asked.step}` }));
  rows.forEach((line, i) => {
    const row = table.insertRow();
    line.forEach((entry, j) => {
      const [symbol, word] = MARKS[kinds[i][j]];
      const shown = element("span", { className: "derive-symbol", textContent: symbol });
      shown.setAttribute("aria-hidden", "true");
      const cell = row.insertCell();
      cell.className = `derive-${kinds[i][j]}`;
      cell.append(shown, ` ${entry} `,
                  element("span", { className: "derive-sr", textContent: word }));
    });
  });
  const count = (kind) => kinds.flat().filter((k) => k === kind).length;
  const total = kinds.flat().length;
  const summary = [`${count("right")} of ${total} entries right`];
  if (count("follows")) summary.push(`${count("follows")} follow from your numbers`);
  if (count("wrong")) summary.push(`${count("wrong")} wrong`);
  const legend = Object.values(MARKS).map(([symbol, word]) => `${symbol} ${word}`).join(" · ");
  const parts = [element("p", { className: "derive-summary",
                               textContent: `${summary.join(", ")}.` }),
                 element("div", { className: "derive-marks-scroll" }, [table]),
                 element("p", { className: "derive-legend", textContent: legend })];
  if (mistake) parts.push(mistakeBox(mistake));
  return parts;
}

/* A named mistake: its title, why it is one, and the step it changes, right above mistaken. */
function mistakeBox(mistake) {
  const tex = "\\begin{aligned}"
    + `\\text{right:} \\quad & ${mistake.right_tex} \\\\`
    + `\\text{mistaken:} \\quad & ${mistake.wrong_tex}\\end{aligned}`;
  return element("div", { className: "admonition warning derive-mistake" }, [
    element("p", { className: "admonition-title",
                   textContent: `A common mistake: ${mistake.title}` }),
    element("p", { textContent: mistake.explanation }),
    element("p", { textContent: "It happens at this step:" }),
    element("div", { className: "arithmatex", textContent: `\\[${tex}\\]` })]);
}

/* A typed or pasted matrix as rows of entries (strings): entries apart by spaces, commas or &,
 * rows by new lines, \\ or ; — a LaTeX bmatrix (or pmatrix), $ and \[ \] around it, and
 * brackets as in [[1, 2], [3, 4]] are taken off. */
function parseMatrix(text) {
  const rows = text
    .replace(/\\(begin|end)\{[bBpvV]?matrix\}/g, "\n")
    .replace(/\\\\/g, "\n")
    .replace(/\\[[\]()]|\$/g, " ")
    .replace(/\]\s*,?\s*\[/g, "\n")
    .replace(/[[\]]/g, " ")
    .replace(/\u2212/g, "-")
    .split(/[\n;]/)
    .map((line) => line.split(/[\s,&]+/).filter(Boolean))
    .filter((line) => line.length);
  if (!rows.length) throw new Error("type a number, or rows of numbers, first");
  return rows;
}

/* What derive's generated JavaScript runs on, and the training steps a page recomputes.
 *
 * `derive.runtime` is a small float64 matrix runtime: the printed chain rule of each example
 * (derive/compile/javascript.py, one line per definition) calls it as `rt`. Its softmax,
 * log-softmax, sigmoid and log-sigmoid take the same stable forms as derive/compile/runtime.py.
 * `derive.example(name).values(edits)` trains an example again in the page, with the reader's
 * numbers, and returns the structure of `python -m derive values` (its answer key);
 * `.mark()` marks the reader's own numbers of a step against it.
 * Plain ES2020, no dependencies; an example's generated script (examples/NAME.js) registers
 * its chain and numbers in `derive.examples[name]`, before or after this file loads.
 */
(function (derive) {
  "use strict";

  /* A rows x cols matrix of float64, row-major; never changed once made. `transposed` is its
   * transpose once `transpose` has made it (or made it from it), so no matrix is transposed
   * twice. */
  class Matrix {
    constructor(rows, cols, data) {
      this.rows = rows;
      this.cols = cols;
      this.data = data || new Float64Array(rows * cols);
      this.transposed = null;
    }
  }

  const rt = {
    Matrix,

    /* A matrix from nested rows ([[...], ...]); a flat list is one column. */
    fromRows(rows) {
      if (!rows.length || !Array.isArray(rows[0])) {
        return new Matrix(rows.length, 1, Float64Array.from(rows));
      }
      const m = new Matrix(rows.length, rows[0].length);
      rows.forEach((row, i) => m.data.set(row, i * m.cols));
      return m;
    },

    /* Nested rows, as NumPy's tolist() gives them. */
    toRows: (m) => rowsOf(m),

    /* The given columns of m, in order (a batch's samples): m itself when they are all of
     * its columns in order. */
    columns(m, indices) {
      if (indices.length === m.cols && indices.every((index, j) => index === j)) return m;
      const out = new Matrix(m.rows, indices.length);
      for (let i = 0; i < m.rows; i++) {
        for (let j = 0; j < indices.length; j++) {
          out.data[i * out.cols + j] = m.data[i * m.cols + indices[j]];
        }
      }
      return out;
    },

    ones(rows, cols) {
      return new Matrix(rows, cols, new Float64Array(rows * cols).fill(1));
    },

    /* Mᵀ, made once: M and Mᵀ remember each other. */
    transpose(m) {
      if (m.transposed) return m.transposed;
      const out = new Matrix(m.cols, m.rows), D = m.data, T = out.data;
      for (let i = 0; i < m.rows; i++) {
        for (let j = 0; j < m.cols; j++) T[j * m.rows + i] = D[i * m.cols + j];
      }
      [out.transposed, m.transposed] = [m, out];
      return out;
    },

    /* A B, Aᵀ B and A Bᵀ (BLAS's NN, TN and NT): the chain rule's products with a transpose
     * (δ Zᵀ, Wᵀ δ) read the untransposed matrix in place, so no transpose is made. */
    matmul: (a, b) => product(a, b, false, false),
    matmulTN: (a, b) => product(a, b, true, false),
    matmulNT: (a, b) => product(a, b, false, true),

    /* a + b, a - b, a ∘ b with NumPy's broadcasting of a number, a column or a row. */
    add: (a, b) => broadcast(a, b, ADD),
    sub: (a, b) => broadcast(a, b, SUBTRACT),
    mul: (a, b) => broadcast(a, b, MULTIPLY),

    neg(m) {
      return rt.scale(-1, m);
    },

    scale(c, m) {
      const out = new Matrix(m.rows, m.cols), A = m.data, C = out.data;
      for (let i = 0; i < A.length; i++) C[i] = c * A[i];
      return out;
    },

    /* f of the entries at each position of one or more matrices of the same shape. */
    map(f, m, ...more) {
      const out = new Matrix(m.rows, m.cols), A = m.data, C = out.data;
      if (!more.length) {
        for (let i = 0; i < A.length; i++) C[i] = f(A[i]);
      } else {
        const B = more[0].data;
        for (let i = 0; i < A.length; i++) C[i] = f(A[i], B[i]);
      }
      return out;
    },

    /* A column of each row's sum (A times a column of ones). */
    rowSums(m) {
      const out = new Matrix(m.rows, 1);
      for (let i = 0; i < m.rows; i++) out.data[i] = sum(row(m, i));
      return out;
    },

    /* A row of each column's sum (a row of ones times A). */
    colSums(m) {
      const out = new Matrix(1, m.cols);
      for (let i = 0; i < m.rows; i++) {
        for (let j = 0; j < m.cols; j++) out.data[j] += m.data[i * m.cols + j];
      }
      return out;
    },

    /* The sum of a ∘ b: tr(Pᵀ Q) = sumProduct(P, Q) without forming the product. */
    sumProduct(a, b) {
      return sum(rt.mul(a, b).data);
    },

    trace(m) {
      let total = 0;
      for (let i = 0; i < Math.min(m.rows, m.cols); i++) total += m.data[i * m.cols + i];
      return total;
    },

    /* 1 / (1 + e^-x) to the last bit for either sign: e^-|x| never overflows. */
    sigmoid(x) {
      const small = Math.exp(-Math.abs(x));
      return (x >= 0 ? 1 : small) / (1 + small);
    },

    /* log(e^x + e^y) without overflow, as NumPy's logaddexp computes it. */
    logAddExp(x, y) {
      if (x === y) return x + Math.LN2;
      const d = x - y;
      if (d > 0) return x + Math.log1p(Math.exp(-d));
      if (d <= 0) return y + Math.log1p(Math.exp(d));
      return NaN;
    },

    /* Column-wise softmax, shifted by each column's maximum so exp never overflows: each
     * entry's e^(s − max) over its column's sum of them, summed from the first row. */
    softmax(m) {
      const out = new Matrix(m.rows, m.cols), S = m.data, C = out.data, n = m.cols;
      const top = columnMax(m).data, totals = new Float64Array(n);
      for (let i = 0; i < S.length; i++) {
        C[i] = Math.exp(S[i] - top[i % n]);
        totals[i % n] += C[i];
      }
      for (let i = 0; i < S.length; i++) C[i] /= totals[i % n];
      return out;
    },

    /* Column-wise log softmax: S minus each column's log-sum-exp, finite for any logits. */
    logSoftmax(m) {
      const out = new Matrix(m.rows, m.cols), S = m.data, C = out.data, n = m.cols;
      const top = columnMax(m).data, totals = new Float64Array(n);
      for (let i = 0; i < S.length; i++) totals[i % n] += Math.exp(S[i] - top[i % n]);
      for (let j = 0; j < n; j++) totals[j] = Math.log(totals[j]);
      for (let i = 0; i < S.length; i++) C[i] = (S[i] - top[i % n]) - totals[i % n];
      return out;
    },
  };

  function broadcast(a, b, op) {
    const A = typeof a === "number" ? new Matrix(1, 1, Float64Array.of(a)) : a;
    const B = typeof b === "number" ? new Matrix(1, 1, Float64Array.of(b)) : b;
    const rows = Math.max(A.rows, B.rows), cols = Math.max(A.cols, B.cols);
    if ((A.rows !== rows && A.rows !== 1) || (A.cols !== cols && A.cols !== 1)
        || (B.rows !== rows && B.rows !== 1) || (B.cols !== cols && B.cols !== 1)) {
      throw new Error(`cannot broadcast ${A.rows}x${A.cols} with ${B.rows}x${B.cols}`);
    }
    const out = new Matrix(rows, cols), C = out.data, X = A.data, Y = B.data;
    if (A.rows === B.rows && A.cols === B.cols) {
      combine(op, C, 0, X, 0, 1, Y, 0, 1, C.length);
      return out;
    }
    // Row by row: a matrix of one row gives every row its row, one of one column each row one
    // number.
    const ar = A.rows === 1 ? 0 : A.cols, br = B.rows === 1 ? 0 : B.cols;
    const ac = A.cols === 1 ? 0 : 1, bc = B.cols === 1 ? 0 : 1;
    for (let i = 0; i < rows; i++) combine(op, C, i * cols, X, i * ar, ac, Y, i * br, bc, cols);
    return out;
  }

  /* op(A) op(B), op a transpose where asked: each entry summed in order from k = 0 in a
   * register, four rows by four columns at a time (16 sums from 8 entries read per k), reading
   * A's and B's entries through strides (A's (i, k) entry at i·ai + k·ak, B's (k, j) at
   * k·bk + j·bj); the entries outside whole blocks are dot products summed in the same order,
   * so every entry is the same number, bit for bit, whatever the block it falls in. */
  function product(a, b, transposeA, transposeB) {
    const rows = transposeA ? a.cols : a.rows, m = transposeA ? a.rows : a.cols;
    const inner = transposeB ? b.cols : b.rows, n = transposeB ? b.rows : b.cols;
    if (m !== inner) {
      const shape = (x, t) => (t ? `${x.cols}x${x.rows}` : `${x.rows}x${x.cols}`);
      throw new Error(`matmul: ${shape(a, transposeA)} times ${shape(b, transposeB)}`);
    }
    const out = new Matrix(rows, n), A = a.data, B = b.data, C = out.data;
    const ai = transposeA ? 1 : a.cols, ak = transposeA ? a.cols : 1;
    const bk = transposeB ? 1 : b.cols, bj = transposeB ? b.cols : 1;
    const ai2 = 2 * ai, ai3 = 3 * ai, bj2 = 2 * bj, bj3 = 3 * bj;
    const whole = n - (n % 4);
    let i = 0;
    for (; i + 3 < rows; i += 4) {
      const o0 = i * n, o1 = o0 + n, o2 = o1 + n, o3 = o2 + n, a0 = i * ai;
      for (let j = 0; j < whole; j += 4) {
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
        for (let k = 0, p = a0, q = j * bj; k < m; k++, p += ak, q += bk) {
          const y0 = B[q], y1 = B[q + bj], y2 = B[q + bj2], y3 = B[q + bj3];
          let x = A[p];
          s00 += x * y0;
          s01 += x * y1;
          s02 += x * y2;
          s03 += x * y3;
          x = A[p + ai];
          s10 += x * y0;
          s11 += x * y1;
          s12 += x * y2;
          s13 += x * y3;
          x = A[p + ai2];
          s20 += x * y0;
          s21 += x * y1;
          s22 += x * y2;
          s23 += x * y3;
          x = A[p + ai3];
          s30 += x * y0;
          s31 += x * y1;
          s32 += x * y2;
          s33 += x * y3;
        }
        C[o0 + j] = s00;
        C[o0 + j + 1] = s01;
        C[o0 + j + 2] = s02;
        C[o0 + j + 3] = s03;
        C[o1 + j] = s10;
        C[o1 + j + 1] = s11;
        C[o1 + j + 2] = s12;
        C[o1 + j + 3] = s13;
        C[o2 + j] = s20;
        C[o2 + j + 1] = s21;
        C[o2 + j + 2] = s22;
        C[o2 + j + 3] = s23;
        C[o3 + j] = s30;
        C[o3 + j + 1] = s31;
        C[o3 + j + 2] = s32;
        C[o3 + j + 3] = s33;
      }
      for (let r = 0; r < 4; r++) {
        for (let j = whole; j < n; j++) {
          C[o0 + r * n + j] = dot(A, a0 + r * ai, ak, B, j * bj, bk, m);
        }
      }
    }
    for (; i < rows; i++) {
      for (let j = 0; j < n; j++) C[i * n + j] = dot(A, i * ai, ak, B, j * bj, bk, m);
    }
    return out;
  }

  const ADD = 0, SUBTRACT = 1, MULTIPLY = 2;

  /* C[c + j] = X[x + j dx] op Y[y + j dy] for j from 0 to n - 1: a loop for each op, so that
   * no function is called per entry. */
  function combine(op, C, c, X, x, dx, Y, y, dy, n) {
    if (op === ADD) {
      for (let j = 0; j < n; j++) C[c + j] = X[x + j * dx] + Y[y + j * dy];
    } else if (op === SUBTRACT) {
      for (let j = 0; j < n; j++) C[c + j] = X[x + j * dx] - Y[y + j * dy];
    } else {
      for (let j = 0; j < n; j++) C[c + j] = X[x + j * dx] * Y[y + j * dy];
    }
  }

  /* The sum of A[a + k da] B[b + k db] for k from 0 to m - 1, in that order. */
  function dot(A, a, da, B, b, db, m) {
    let total = 0;
    for (let k = 0; k < m; k++, a += da, b += db) total += A[a] * B[b];
    return total;
  }

  /* `n` entries of a typed array from `start`, as a list: by a loop, as Array.from of a typed
   * array is several times slower, and an answer key lists every matrix of every step. */
  function listed(data, start, n, check) {
    const list = new Array(n);
    let total = 0;
    for (let j = 0; j < n; j++) {
      list[j] = data[start + j];
      total += list[j] * 0;
    }
    if (check) check.total += total;
    return list;
  }

  /* m's rows as lists; `check.total` (where given) becomes NaN if an entry is not finite, as
   * x · 0 is NaN for an infinite or NaN x and 0 otherwise. */
  function rowsOf(m, check) {
    const rows = new Array(m.rows);
    for (let i = 0; i < m.rows; i++) rows[i] = listed(m.data, i * m.cols, m.cols, check);
    return rows;
  }

  /* Row i of m, without copying. */
  function row(m, i) {
    return m.data.subarray(i * m.cols, (i + 1) * m.cols);
  }

  function sum(values) {
    let total = 0;
    for (let i = 0; i < values.length; i++) total += values[i];
    return total;
  }

  function columnMax(m) {
    const out = new Matrix(1, m.cols, m.data.slice(0, m.cols));
    for (let i = 1; i < m.rows; i++) {
      for (let j = 0; j < m.cols; j++) {
        const x = m.data[i * m.cols + j];
        // NumPy's max: NaN wins.
        if (x > out.data[j] || Number.isNaN(x)) out.data[j] = x;
      }
    }
    return out;
  }

  /* ---- Training again, with the reader's numbers ---- */

  const EPS = Number.EPSILON;
  const CLASSIFIERS = ["cross_entropy", "hinge"];

  /* An error of an example's run or of the numbers given: `message` as derive says it. */
  class DeriveError extends Error {
    constructor(message, details = {}) {
      super(message);
      this.name = "DeriveError";
      Object.assign(this, details);
    }
  }

  /* The numbers of one run: the file's, with `edits` (the example file's keys and shapes). */
  function settings(spec, edits) {
    const where = (field, problem) => new DeriveError(`${spec.file}: ${field}: ${problem}`);
    const [d, ...widths] = spec.network.sizes, k = widths[widths.length - 1];
    const N = spec.values.X.length;
    const given = { ...spec.values, ...edits };
    const allowed = new Set(Object.keys(spec.values));
    for (const key of Object.keys(edits)) {
      if (!allowed.has(key)) {
        throw where(key, `not a value of this example; use one of ${[...allowed].join(", ")}`);
      }
    }
    // The file's matrices are read once, and kept (matrices never change once made).
    const file = spec.read || (spec.read = {});
    const read = (key, make) => (key in edits ? make() : file[key] || (file[key] = make()));
    const X = read("X", () => rt.transpose(rt.fromRows(matrix(where, "data.X", given.X, N, d))));
    const flat = Array.isArray(given.y) && given.y.every((v) => !Array.isArray(v));
    const labels = "y" in edits ? (flat && k > 1 && CLASSIFIERS.includes(spec.network.loss)
      ? classes(where, given.y, N, k) : null) : spec.answer.labels;
    const Y = read("y", () => {
      if (labels) return rt.fromRows(Array.from({ length: k }, (_, j) => labels.map(
        (label) => (label === j ? 1 : 0))));
      return flat && k === 1 ? rt.fromRows([vector(where, "data.y", given.y, N)])
        : rt.transpose(rt.fromRows(matrix(where, "data.y", given.y, N, k)));
    });
    requireTargets(where, spec.network.loss, Y);
    const parameters = {};
    for (const name of spec.parameters) {
      const layer = Number(name.slice(1)), rows = widths[layer - 1], field = `weights.${name}`;
      parameters[name] = read(name, () => rt.fromRows(name[0] === "W"
        ? matrix(where, field, given[name], rows, spec.network.sizes[layer - 1])
        : vector(where, field, given[name], rows)));
    }
    const rate = number(where, "training.learning_rate", given.learning_rate);
    if (!(rate > 0 && rate <= 1e6)) {
      throw where("training.learning_rate", `must be positive (and at most 1e6), not ${rate}`);
    }
    const momentum = number(where, "training.momentum", given.momentum);
    if (!(momentum >= 0 && momentum <= 0.999)) {
      throw where("training.momentum", `must be at least 0 and below 1, not ${momentum}`);
    }
    const decay = number(where, "training.weight_decay", given.weight_decay);
    if (!(decay >= 0 && decay <= 1e6)) {
      throw where("training.weight_decay", `must be at least 0 and at most 1e6, not ${decay}`);
    }
    if (decay > 0 && !spec.weight_decay) {
      throw where("training.weight_decay",
                  "this example's chain rule has no weight decay term; keep it 0");
    }
    // torch.optim.SGD's dampening and Nesterov momentum, where the example has them.
    const training = spec.answer.training;
    const dampening = number(where, "training.dampening", given.dampening ?? 0);
    if (!(dampening >= 0 && dampening <= 1)) {
      throw where("training.dampening", `must be between 0 and 1, not ${dampening}`);
    }
    const nesterov = (given.nesterov ?? false) === true;
    if (dampening && !momentum) {
      throw where("training.dampening", "dampens the momentum: set training.momentum above 0 too");
    }
    if (nesterov && !(momentum && !dampening)) {
      throw where("training.nesterov", "Nesterov momentum needs training.momentum above 0 and no "
                  + "dampening (as torch.optim.SGD)");
    }
    if (training.decay_biases && !(decay > 0)) {
      throw where("training.decay_biases", "decays the biases: needs network.bias = true and "
                  + "training.weight_decay above 0");
    }
    return { X, Y, labels, parameters, rate, momentum, dampening, nesterov, decay };
  }

  function number(where, field, value) {
    if (typeof value !== "number") {
      throw where(field, `must be a number, not ${JSON.stringify(value)}`);
    }
    if (!Number.isFinite(value)) throw where(field, `must be finite, not ${value}`);
    return value;
  }

  function vector(where, field, value, length) {
    if (!Array.isArray(value)) throw where(field, "must be a list of numbers");
    if (value.length !== length) {
      throw where(field, `must have ${length} entries, not ${value.length}`);
    }
    // The field's name is written only for a number that is refused: a file has thousands.
    return value.map((v, i) => (Number.isFinite(v) ? v : number(where, `${field}[${i}]`, v)));
  }

  function matrix(where, field, value, rows, columns) {
    if (!Array.isArray(value) || !value.length) {
      throw where(field, "must be a non-empty list of rows");
    }
    if (value.length !== rows) throw where(field, `must have ${rows} rows, not ${value.length}`);
    return value.map((row, i) => vector(where, `${field}[${i}]`, row, columns));
  }

  /* Integer class labels, one per sample, as derive/spec.py reads them. */
  function classes(where, value, samples, count) {
    if (value.length !== samples) {
      throw where("data.y", `must have ${samples} labels (one per sample), not ${value.length}`);
    }
    value.forEach((label, i) => {
      if (!Number.isInteger(label)) {
        throw where(`data.y[${i}]`, `a class label must be a whole number, not `
                    + `${JSON.stringify(label)} (or give one-hot rows)`);
      }
      if (!(label >= 0 && label < count)) {
        throw where(`data.y[${i}]`, `class ${label} does not exist: labels run from 0 to `
                    + `${count - 1}`);
      }
    });
    return value;
  }

  function requireTargets(where, loss, Y) {
    const entries = Array.from(Y.data);
    if (loss === "bce" && !entries.every((v) => v >= 0 && v <= 1)) {
      throw where("data.y", "bce targets must lie in [0, 1]");
    }
    if (loss === "cross_entropy" && !(entries.every((v) => v >= 0)
        && rt.colSums(Y).data.every((total) => Math.abs(total - 1) <= 1e-9))) {
      throw where("data.y",
                  "cross_entropy targets must be distributions: each row >= 0, summing to 1");
    }
    if (loss === "hinge" && !(entries.every((v) => v === 0 || v === 1)
        && rt.colSums(Y).data.every((total) => total === 1))) {
      throw where("data.y",
                  "hinge targets must be one-hot rows (one 1, the rest 0) or class labels");
    }
  }

  /* The example trained with `edits`: `values`, the answer key `derive values` prints, and
   * `states`, each step's inputs (`inputs`, the chain's arguments; `parameters`; `previous`,
   * the velocity before it), its chain's values `all` and its quantities `made`. */
  function train(spec, edits = {}) {
    const run = settings(spec, edits);
    const extra = spec.weight_decay ? { weight_decay: run.decay } : {};
    const whole = spec.batch_size === run.X.cols;
    const lossOf = (parameters) => spec.loss(rt, { X: run.X, Y: run.Y, ...parameters, ...extra }).L;
    let parameters = run.parameters, velocity = {};
    const steps = [], states = [], lists = new Map();
    spec.batches.forEach((samples, index) => {
      const step = index + 1;
      const X = rt.columns(run.X, samples), Y = rt.columns(run.Y, samples);
      const inputs = { X, Y, ...parameters, ...extra };
      const all = spec.chain(rt, inputs);
      const made = quantities(spec, run, all, parameters, velocity, run.rate);
      const dataLoss = whole ? null : lossOf(parameters);
      // Every entry is checked as it is listed (and the rest beside): only a step with one
      // that is not finite is searched, in order, for the first such quantity.
      const check = { total: unlisted(spec, run, made, dataLoss) };
      const listing = {
        weights: named(parameters, lists, check),
        gradients: named(made.gradients, lists, check),
        velocity: named(made.velocity, lists, check),
        updated: named(made.updated, lists, check),
        intermediates: Object.fromEntries(Object.entries(made.intermediates).map(
          ([name, value]) => [name, typeof value === "number" ? value : rowsOf(value, check)])),
      };
      if (check.total !== 0) {
        requireFinite(spec, step, made.kept, made.updated, made.velocity, dataLoss);
      }
      steps.push({
        step,
        samples: [...samples],
        weights: listing.weights,
        loss: all.L,
        ...(dataLoss === null ? {} : { data_loss: dataLoss }),
        gradients: listing.gradients,
        ...(Object.keys(made.velocity).length ? { velocity: listing.velocity } : {}),
        updated: listing.updated,
        intermediates: listing.intermediates,
        ...nearKinks(spec, step, X, Y, parameters, all),
      });
      states.push({ inputs, parameters, previous: velocity, all, made });
      [parameters, velocity] = [made.updated, made.velocity];
    });
    const final = lossOf(parameters);
    if (!Number.isFinite(final)) {
      throw new DeriveError(`${spec.file}: training: after step ${spec.steps}: the loss is `
                            + `${pythonFloat(final)}; lower training.learning_rate or scale the `
                            + "data and weights down",
                            { step: spec.steps, quantity: "final.loss" });
    }
    const values = {
      ...spec.answer,
      learning_rate: run.rate,
      labels: run.labels,
      training: { ...spec.answer.training, weight_decay: run.decay, momentum: run.momentum,
                  ...("dampening" in spec.answer.training ? { dampening: run.dampening } : {}),
                  ...("nesterov" in spec.answer.training ? { nesterov: run.nesterov } : {}) },
      steps,
      final: { loss: final, weights: named(parameters, lists) },
    };
    return { values, states, run, data: { X: run.X, Y: run.Y } };
  }

  /* A step's quantities from its chain's values `all`, as matrices (numbers for scalars):
   * `kept`, the definitions a page shows; the `loss`; `intermediates`, those but the loss and
   * the gradients; the `gradients`; and the `velocity` and `updated` parameters of SGD with
   * learning rate `rate`, from the step's `parameters` and `previous` velocity (`velocities`
   * replace the velocities computed). */
  function quantities(spec, run, all, parameters, previous, rate, velocities = {}) {
    const kept = {}, intermediates = {}, gradients = {};
    for (const [name, value] of Object.entries(all)) {
      // Without weight decay the objective is L: the page's J terms are left out, as derive's
      // derivation without a decay term has none.
      if (!(run.decay > 0) && (name === "R" || name === "J" || /^d[RJ]_d/.test(name))) continue;
      kept[name] = value;
      if (name !== "L" && !/^d[LJ]_d/.test(name)) intermediates[name] = value;
    }
    for (const name of spec.parameters) gradients[name] = all[gradientName(spec, run, name)];
    const [velocity, updated] = update(spec, run, parameters, gradients, previous, rate,
                                       velocities);
    return { kept, loss: all.L, intermediates, gradients, velocity, updated };
  }

  /* The definition holding the gradient of parameter `name`: of J with weight decay, else L. */
  function gradientName(spec, run, name) {
    return spec.gradients[name].replace(/^dJ_d/, run.decay > 0 ? "dJ_d" : "dL_d");
  }

  /* A shown quantity of a run: its dotted path in `values` at a step (from 1; the whole run
   * when 0), where X and Y are the data (a step's batch) and intermediates.NAME is any
   * definition of the chain rule; a matrix as rows, a bias flat, undefined if there is none. */
  function lookup(trained, quantity, step) {
    const state = step ? trained.states[step - 1] : { inputs: trained.data, made: { kept: {} } };
    if (!state) return undefined;
    if (quantity === "X" || quantity === "Y") return rt.toRows(state.inputs[quantity]);
    let value = step ? trained.values.steps[step - 1] : trained.values;
    for (const part of quantity.split(".")) value = value === undefined ? value : value[part];
    const definition = quantity.match(/^intermediates\.(\w+)$/);
    if (value === undefined && definition && definition[1] in state.made.kept) {
      const found = state.made.kept[definition[1]];
      return typeof found === "number" ? found : rt.toRows(found);
    }
    return value;
  }

  /* Entry (i, j) of a step's argument (X and Y its batch) or definition, by name (from 0). */
  function entry(trained, step, name, i, j) {
    const { inputs, all } = trained.states[step - 1];
    const m = name in inputs ? inputs[name] : all[name];
    return typeof m === "number" ? m : m.data[i * m.cols + j];
  }

  /* One step of torch.optim.SGD, frozen parameters left as they are: without momentum
   * θ ← θ − η g; with momentum μ the velocity v is g at the first step, then
   * v ← μ v + (1 − dampening) g, and θ ← θ − η v, or θ ← θ − η (g + μ v) with Nesterov's.
   * `velocity` is the previous step's; `velocities` replace the velocities computed (a
   * reader's own). */
  function update(spec, run, parameters, gradients, velocity, rate, velocities = {}) {
    const frozen = new Set(spec.freeze), { momentum, dampening, nesterov } = run;
    let step = gradients;
    if (momentum) {
      const next = {};
      step = {};
      for (const name of Object.keys(parameters)) {
        if (frozen.has(name)) continue;
        const gradient = gradients[name];
        next[name] = velocities[name] || (!(name in velocity) ? gradient
          : rt.add(rt.scale(momentum, velocity[name]),
                   dampening ? rt.scale(1 - dampening, gradient) : gradient));
        step[name] = nesterov ? rt.add(gradient, rt.scale(momentum, next[name])) : next[name];
      }
      velocity = next;
    }
    const updated = {};
    for (const [name, value] of Object.entries(parameters)) {
      updated[name] = frozen.has(name) ? value : minusScaled(value, rate, step[name]);
    }
    return [velocity, updated];
  }

  /* a − c b: rt.sub(a, rt.scale(c, b)), in one pass where the shapes are the same (a
   * mistaken step may give one a shape that broadcasts). */
  function minusScaled(a, c, b) {
    if (a.rows !== b.rows || a.cols !== b.cols) return rt.sub(a, rt.scale(c, b));
    const out = new Matrix(a.rows, a.cols), A = a.data, B = b.data, C = out.data;
    for (let i = 0; i < C.length; i++) C[i] = A[i] - c * B[i];
    return out;
  }

  /* Parameters as the answer key writes them: W_l as rows, b_l as a flat list. A matrix is
   * listed once in `lists` (by matrix) and shared where it comes again: a step's updated
   * parameters are the next step's weights, the last ones the final weights. `check` as for
   * `rowsOf`, for the matrices listed now. */
  function named(values, lists, check) {
    return Object.fromEntries(Object.entries(values).map(([name, m]) => {
      if (!lists.has(m)) {
        lists.set(m, name[0] === "b" ? listed(m.data, 0, m.data.length, check)
          : rowsOf(m, check));
      }
      return [name, lists.get(m)];
    }));
  }

  /* 0 if the step's numbers that its answer key does not list are finite, else NaN: the
   * numbers of the chain (the loss), the loss of all samples, and the gradients of L that are
   * not the step's (with weight decay, those of J are). */
  function unlisted(spec, run, made, dataLoss) {
    const listed_ = new Set(spec.parameters.map((name) => gradientName(spec, run, name)));
    let total = dataLoss === null ? 0 : dataLoss * 0;
    for (const [name, value] of Object.entries(made.kept)) {
      if (typeof value === "number") total += value * 0;
      else if (!(name in made.intermediates) && !listed_.has(name)) {
        total += finite(value.data) ? 0 : NaN;
      }
    }
    return total;
  }

  /* Throw naming the step and the first quantity that is not finite, as derive's training does. */
  function requireFinite(spec, step, values, updated, velocity, dataLoss) {
    const quantities = [...Object.entries(values),
                        ...Object.entries(updated).map(([n, v]) => [`updated ${n}`, v]),
                        ...Object.entries(velocity).map(([n, v]) => [`velocity of ${n}`, v])];
    if (dataLoss !== null) quantities.push(["the loss of all samples", dataLoss]);
    for (const [name, value] of quantities) {
      const entries = typeof value === "number" ? [value] : value.data;
      if (finite(entries)) continue;
      const gradient = name.match(/^d([LRJ])_d(\w+)$/);
      const shown = { L: "the loss", J: "the objective" }[name]
        || (gradient && spec.parameters.includes(gradient[2])
          ? `d${gradient[1]}/d${gradient[2]}` : name);
      const kind = entries.some(Number.isNaN) ? "nan" : "inf";
      throw new DeriveError(`${spec.file}: training: step ${step}: ${shown} is ${kind}; lower `
                            + "training.learning_rate or scale the data and weights down",
                            { step, quantity: name });
    }
  }

  /* Whether every entry is finite: x · 0 is NaN for an infinite or NaN x, and 0 otherwise. */
  function finite(entries) {
    let total = 0;
    for (let i = 0; i < entries.length; i++) total += entries[i] * 0;
    return total === 0;
  }

  function pythonFloat(x) {
    return Number.isNaN(x) ? "nan" : x === Infinity ? "inf" : x === -Infinity ? "-inf" : String(x);
  }

  /* The relu-like pre-activations and hinge margins within rounding of their kink
   * (derive/verify/kinks.py): |S| at most n·ε·(|W| |Z| + |b|), n the fan-in plus the bias, and
   * that bound above 0. The bound is summed only where a cheaper one above it,
   * n·ε·(Σ_k |W_ik| · max_k |Z_kj| + |b_i|), leaves S in reach: that is rare, and the product
   * |W| |Z| would cost as much as S. */
  function nearKinks(spec, step, X, Y, parameters, values) {
    if (step < spec.kinks_from) return {};
    const found = [];
    for (const layer of spec.kinked) {
      const Z = layer === 1 ? X : values[`Z${layer - 1}`], S = values[`S${layer}`];
      const W = parameters[`W${layer}`], b = parameters[`b${layer}`];
      const n = W.cols, columns = Z.cols, factor = (n + 1) * EPS, w = W.data, z = Z.data;
      const rowSums = new Float64Array(S.rows), columnMax = new Float64Array(columns);
      for (let i = 0; i < S.rows; i++) {
        let total = 0;
        for (let k = 0; k < n; k++) total += Math.abs(w[i * n + k]);
        rowSums[i] = total;
      }
      for (let k = 0; k < n; k++) {
        for (let j = 0; j < columns; j++) {
          const entry = Math.abs(z[k * columns + j]);
          if (entry > columnMax[j]) columnMax[j] = entry;
        }
      }
      for (let i = 0; i < S.rows; i++) {
        const bias = b ? Math.abs(b.data[i]) : 0;
        for (let j = 0; j < columns; j++) {
          const value = S.data[i * columns + j];
          // 1.001: rounding never lifts the sum above the cheaper bound.
          if (!(Math.abs(value) <= 1.001 * factor * (rowSums[i] * columnMax[j] + bias))) continue;
          let total = 0;
          for (let k = 0; k < n; k++) {
            total += Math.abs(w[i * n + k]) * Math.abs(z[k * columns + j]);
          }
          const limit = factor * (total + bias);
          if (Math.abs(value) <= limit && limit > 0) {
            found.push({ quantity: `intermediates.S${layer}`, entry: [i, j], value, bound: limit });
          }
        }
      }
    }
    if (spec.network.loss === "hinge") {
      found.push(...nearMargins(spec, X, Y, parameters, values));
    }
    return found.length ? { near_kinks: found } : {};
  }

  /* The hinge margins M = ŷ_j − ŷ_c + 1 within rounding of 0: their own two roundings,
   * 2ε(|ŷ_j| + |ŷ_c| + 1), plus the rounding bounds of the two scores' sums (none below a
   * softmax), as derive/verify/kinks.py bounds them. */
  function nearMargins(spec, X, Y, parameters, values) {
    const depth = spec.network.sizes.length - 1;
    const scores = values[`Z${depth}`], M = values.M, k = M.rows, columns = M.cols;
    const softmax = spec.answer.network.activations[depth - 1] === "softmax";
    const rounding = softmax ? new Float64Array(k * columns) : sumBounds(
      depth === 1 ? X : values[`Z${depth - 1}`], parameters[`W${depth}`], parameters[`b${depth}`]);
    const found = [];
    for (let j = 0; j < columns; j++) {
      let truth = 0, truthRounding = 0;
      for (let c = 0; c < k; c++) {
        truth += Y.data[c * columns + j] * scores.data[c * columns + j];
        truthRounding += Y.data[c * columns + j] * rounding[c * columns + j];
      }
      for (let i = 0; i < k; i++) {
        const own = 2 * EPS * (Math.abs(scores.data[i * columns + j]) + Math.abs(truth) + 1);
        const bound = own + rounding[i * columns + j] + truthRounding;
        const value = M.data[i * columns + j];
        if (Math.abs(value) <= bound && bound > 0) found.push({ i, j, value, bound });
      }
    }
    found.sort((a, b) => a.i - b.i || a.j - b.j);
    return found.map(({ i, j, value, bound }) =>
      ({ quantity: "intermediates.M", entry: [i, j], value, bound }));
  }

  /* n·ε·(|W| |Z| + |b|) of every entry of S = W Z + b, n the fan-in plus the bias. */
  function sumBounds(Z, W, b) {
    const n = W.cols, columns = Z.cols, factor = (n + 1) * EPS;
    const out = new Float64Array(W.rows * columns), w = W.data, z = Z.data;
    for (let i = 0; i < W.rows; i++) {
      for (let j = 0; j < columns; j++) {
        let total = 0;
        for (let t = 0; t < n; t++) total += Math.abs(w[i * n + t]) * Math.abs(z[t * columns + j]);
        out[i * columns + j] = factor * (total + (b ? Math.abs(b.data[i]) : 0));
      }
    }
    return out;
  }

  /* ---- Marking a reader's numbers ----
   *
   * An entry is right when it agrees with the true value to the digits typed: within half a
   * unit of its last typed decimal place, that place moved down to the third significant digit
   * typed when fewer were typed, but never below the page's precision (see `typed`). It follows
   * when it agrees so with the value the step's formulas give from the reader's own earlier
   * numbers of the step, and a mistake is named when every entry agrees so with what the
   * mistake gives from the step's true inputs (derive/mistakes.py), unless the mistake gives the
   * right value there. docs/check-your-numbers.md states the same rules for readers.
   */

  const GROUPS = ["intermediates", "gradients", "velocity", "updated"];
  const SAME = 1e-9;  // relative difference below which a mistaken value is the right one

  /* A quantity of a step's `made` quantities by its dotted path, or undefined. */
  function quantityOf(made, path) {
    const [group, name, ...rest] = String(path).split(".");
    if (group === "loss") return name === undefined ? made.loss : undefined;
    const values = GROUPS.includes(group) && !rest.length ? made[group] : undefined;
    return values && Object.prototype.hasOwnProperty.call(values, name) ? values[name] : undefined;
  }

  /* Every dotted path of a step's quantities. */
  function pathsOf(made) {
    return ["loss", ...GROUPS.flatMap((group) => Object.keys(made[group]).map(
      (name) => `${group}.${name}`))];
  }

  /* A number as a 1 x 1 matrix; a matrix as it is. */
  function matrixOf(value) {
    return typeof value === "number" ? new Matrix(1, 1, Float64Array.of(value)) : value;
  }

  /* An entry as typed, a string or a number (a number's digits are those of its shortest
   * form, String(x)): its value and the decimal place it is judged at. That is the place of
   * its last digit, moved down to where a third significant digit would be when fewer are
   * typed (0.12: 3; 1.2e-3: 5; 0: none), but not below the page's `precision`. */
  function typed(entry, precision, where) {
    const text = typeof entry === "number" ? String(entry)
      : typeof entry === "string" ? entry.trim().replace(/^\u2212/, "-") : "";
    const parts = text.match(/^[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/);
    if (!parts || !(parts[1] || parts[2])) {
      throw new DeriveError(`${where}: ${JSON.stringify(entry)} is not a number`);
    }
    const [, whole, fraction = "", exponent = "0"] = parts;
    const last = fraction.length - Number(exponent);
    const digits = (whole + fraction).replace(/^0+/, "").length;
    const third = digits ? last + 3 - digits : Infinity;
    return { value: Number(text), place: Math.max(last, Math.min(third, precision)) };
  }

  /* Whether a typed entry agrees with `value` to its place: within half a unit there (and the
   * rounding of the two floats). */
  function agrees(entry, value) {
    const half = 0.5 * 10 ** -entry.place;
    return Math.abs(entry.value - value) <= half * (1 + 1e-9) + 4 * EPS * Math.abs(value);
  }

  /* `entered` as rows of typed entries: a number or a string is one entry, a flat list a row,
   * and a row or a column of a quantity that is the other (a bias is a column) is read as it. */
  function enteredRows(entered, truth, precision, label = "") {
    let rows = !Array.isArray(entered) ? [[entered]]
      : entered.every((entry) => !Array.isArray(entry)) ? [entered] : entered;
    const column = rows.every((line) => Array.isArray(line) && line.length === 1);
    const flipped = rows.length === 1 ? truth.cols === 1 && truth.rows === rows[0].length
      : column && truth.rows === 1 && truth.cols === rows.length;
    if (flipped && truth.rows * truth.cols > 1) {
      rows = rows[0].map((_, j) => rows.map((line) => line[j]));
    }
    if (!rows.length || !rows.every((line) => Array.isArray(line) && line.length)) {
      throw new DeriveError(`${label}give a number, a flat list, or a list of rows of numbers`);
    }
    const width = rows[0].length;
    return rows.map((line, i) => {
      if (line.length !== width) {
        throw new DeriveError(`${label}row ${i + 1} has ${line.length} entries, `
                              + `row 1 has ${width}`);
      }
      return line.map((entry, j) => typed(entry, precision, `${label}entry (${i + 1}, ${j + 1})`));
    });
  }

  /* Each entry of `rows` agrees with `value` (false everywhere when the shapes differ). */
  function marks(rows, value) {
    const m = matrixOf(value);
    const fits = m.rows === rows.length && m.cols === rows[0].length;
    return rows.map((line, i) => line.map(
      (entry, j) => fits && agrees(entry, m.data[i * m.cols + j])));
  }

  const everywhere = (table) => table.every((line) => line.every(Boolean));

  /* The same shape and the same entries to rounding (derive/mistakes.py's `_same`). */
  function same(a, b) {
    const A = matrixOf(a), B = matrixOf(b);
    if (A.rows !== B.rows || A.cols !== B.cols) return false;
    let scale = 0;
    for (let i = 0; i < B.data.length; i++) scale = Math.max(scale, Math.abs(B.data[i]));
    return A.data.every((x, i) => Math.abs(x - B.data[i]) <= SAME * scale);
  }

  /* The node of the step's computation a dotted path names: a definition of the chain, or a
   * velocity or updated parameter. */
  function nodeOf(spec, run, path) {
    const [group, name] = path.split(".");
    if (group === "loss") return "L";
    if (group === "gradients") return gradientName(spec, run, name);
    return group === "intermediates" ? name : path;
  }

  /* Every node `node` is computed from, through the chain's definitions and SGD's update. */
  function ancestors(spec, run, node) {
    const parents = (n) => {
      const [group, name] = n.split(".");
      if (group === "updated") {
        if (spec.freeze.includes(name)) return [];
        const gradient = gradientName(spec, run, name);
        if (!run.momentum) return [gradient];
        return run.nesterov ? [`velocity.${name}`, gradient] : [`velocity.${name}`];
      }
      return group === "velocity" ? [gradientName(spec, run, name)] : spec.depends[n] || [];
    };
    const found = new Set(), queue = [...parents(node)];
    while (queue.length) {
      const next = queue.pop();
      if (found.has(next)) continue;
      found.add(next);
      queue.push(...parents(next));
    }
    return found;
  }

  /* The quantity as the step's formulas give it from the reader's `own` numbers of the step
   * that go into it (each shaped like its true value: other shapes are left out), or null when
   * none does. */
  function fromOwn(spec, trained, state, quantity, own) {
    const run = trained.run, before = ancestors(spec, run, nodeOf(spec, run, quantity));
    const given = {}, velocities = {};
    for (const [path, rows] of Object.entries(own)) {
      const node = nodeOf(spec, run, path), truth = quantityOf(state.made, path);
      if (!before.has(node) || truth === undefined) continue;
      const m = matrixOf(truth), table = enteredRows(rows, m, spec.precision, `own ${path}: `);
      if (table.length !== m.rows || table[0].length !== m.cols) continue;
      const value = rt.fromRows(table.map((line) => line.map((entry) => entry.value)));
      const mine = typeof truth === "number" ? value.data[0] : value;
      if (path.startsWith("velocity.")) velocities[path.slice(9)] = mine;
      else given[node] = mine;
    }
    if (!Object.keys(given).length && !Object.keys(velocities).length) return null;
    const all = spec.chain(rt, state.inputs, given);
    const made = quantities(spec, run, all, state.parameters, state.previous, run.rate,
                            velocities);
    return quantityOf(made, quantity);
  }

  /* The step's quantity as `mistake` makes it, from the step's true inputs: its chain prints
   * only the definitions the mistake changes, the others come from the true chain's values. */
  function mistaken(spec, trained, state, mistake, quantity) {
    const run = trained.run;
    const all = mistake.chain
      ? { ...state.all, ...mistake.chain(rt, { ...state.inputs, ...state.all, eta: run.rate }) }
      : state.all;
    const rate = mistake.ascent ? -run.rate : run.rate;
    return quantityOf(quantities(spec, run, all, state.parameters, state.previous, rate),
                      quantity);
  }

  /* `.mark()`: see `derive.example`. */
  function mark(spec, trained, { step, quantity, entered, own = {} }) {
    const state = trained.states[step - 1];
    if (!state) {
      throw new DeriveError(`step: must be a step from 1 to ${trained.states.length}, `
                            + `not ${JSON.stringify(step)}`);
    }
    const truth = quantityOf(state.made, quantity);
    if (truth === undefined) {
      throw new DeriveError(`${JSON.stringify(quantity)}: not a quantity of step ${step}; use `
                            + `one of ${pathsOf(state.made).join(", ")}`);
    }
    const rows = enteredRows(entered, matrixOf(truth), spec.precision);
    const right = marks(rows, truth);
    const mine = fromOwn(spec, trained, state, quantity, own);
    const follows = mine === null ? null : marks(rows, mine);
    const shape = (value) => {
      const m = matrixOf(value);
      return m.rows === rows.length && m.cols === rows[0].length;
    };
    let mistake = null;
    const settled = everywhere(right) || (follows !== null && everywhere(follows));
    const search = settled ? [] : spec.mistakes;
    let fits = shape(truth);
    for (const candidate of search) {
      const value = mistaken(spec, trained, state, candidate, quantity);
      if (value === undefined || !shape(value) || same(value, truth)) continue;
      fits = true;
      if (everywhere(marks(rows, value))) {
        const { id, title, explanation, where, right_tex, wrong_tex } = candidate;
        mistake = { id, title, explanation, where, right_tex, wrong_tex };
        break;
      }
    }
    if (!fits) {
      const m = matrixOf(truth);
      throw new DeriveError(`${quantity} at step ${step} is ${m.rows} × ${m.cols} (rows × `
                            + `columns), not ${rows.length} × ${rows[0].length}`,
                            { shape: [m.rows, m.cols] });
    }
    return { right, follows, mistake };
  }

  derive.runtime = rt;
  derive.DeriveError = DeriveError;
  derive.examples = derive.examples || {};

  /* An example of this page by its file's stem: `.values(edits)` trains it again, `.mark()`
   * marks a reader's numbers. */
  derive.example = function (name) {
    const spec = derive.examples[name];
    if (!spec) throw new DeriveError(`no example named ${JSON.stringify(name)} on this page`);
    return {
      name,
      values: (edits) => train(spec, edits).values,
      /* The run with `edits`, a lookup of its shown quantities (see `lookup`) and of an entry
       * of a step's arguments and definitions (see `entry`). */
      run(edits) {
        const trained = train(spec, edits);
        return { values: trained.values, quantity: (path, step) => lookup(trained, path, step),
                 entry: (step, name, i, j) => entry(trained, step, name, i, j) };
      },
      /* `{right, follows, mistake}` for the reader's `entered` value of `quantity` (a dotted
       * path of a step of `values`) at `step`, against the run with `edits` (by default the
       * edits the page shows); `own` maps dotted paths to the reader's earlier numbers of the
       * step. See "Marking a reader's numbers" above and docs/check-your-numbers.md. */
      mark(options) {
        const shown = derive.page && derive.page.example === name ? derive.page.edits : {};
        return mark(spec, train(spec, options.edits || shown), options);
      },
      /* The example file's numbers, in its own keys and shapes. */
      file: () => JSON.parse(JSON.stringify(spec.values)),
      momentum: spec.values.momentum > 0,
      weightDecay: spec.weight_decay,
    };
  };
})(window.derive = window.derive || {});

/**
 * L2-regularized logistic regression trained by full-batch gradient descent, scored by k-fold
 * cross-validation (mean validation log-loss; lower is better). The data set is a list of blocks (row-major,
 * `features` values then the label per row); rows are visited in global order whatever the block boundaries,
 * so a pack's shared blocks and the reference's single block give bit-identical scores.
 * @module
 */
/** Rows of `features` values then the label, in one or more blocks. */
export interface Dataset {
  features: number;
  blocks: readonly Float64Array[];
}

export interface CvSpec {
  folds: number;
  epochs: number;
}

export interface Hyper {
  lambda: number;
  learningRate: number;
}

export interface GridSpec {
  lambdas: number[];
  learningRates: number[];
}

/** Every configuration, lambda-major: index = li · learningRates.length + ri. */
export function grid(g: GridSpec): Hyper[] {
  return g.lambdas.flatMap((lambda) => g.learningRates.map((learningRate) => ({ lambda, learningRate })));
}

export function rowCount(data: Dataset): number {
  let n = 0;
  for (const b of data.blocks) n += b.length / (data.features + 1);
  return n;
}

/** log(1 + e^z) without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** Weights (bias last) trained on every row whose index mod folds ≠ fold (fold = −1: all rows). */
export function train(data: Dataset, h: Hyper, cv: CvSpec, fold: number): Float64Array {
  const d = data.features;
  const w = new Float64Array(d + 1);
  const grad = new Float64Array(d + 1);
  let nTrain = 0;
  for (let epoch = 0; epoch < cv.epochs; epoch++) {
    grad.fill(0);
    nTrain = 0;
    let row = 0;
    for (const b of data.blocks) {
      for (let at = 0; at < b.length; at += d + 1, row++) {
        if (row % cv.folds === fold) continue;
        let z = w[d]!;
        for (let j = 0; j < d; j++) z += w[j]! * b[at + j]!;
        const err = 1 / (1 + Math.exp(-z)) - b[at + d]!;
        for (let j = 0; j < d; j++) grad[j]! += err * b[at + j]!;
        grad[d]! += err;
        nTrain++;
      }
    }
    if (nTrain === 0) break;
    for (let j = 0; j < d; j++) w[j]! -= h.learningRate * (grad[j]! / nTrain + h.lambda * w[j]!);
    w[d]! -= (h.learningRate * grad[d]!) / nTrain;
  }
  return w;
}

/** Mean log-loss of `w` on the rows of `fold`. */
export function validationLoss(data: Dataset, w: Float64Array, folds: number, fold: number): number {
  const d = data.features;
  let loss = 0;
  let n = 0;
  let row = 0;
  for (const b of data.blocks) {
    for (let at = 0; at < b.length; at += d + 1, row++) {
      if (row % folds !== fold) continue;
      let z = w[d]!;
      for (let j = 0; j < d; j++) z += w[j]! * b[at + j]!;
      loss += softplus(z) - b[at + d]! * z;
      n++;
    }
  }
  return n === 0 ? 0 : loss / n;
}

/** Cross-validated score of one configuration (diverged training scores +Infinity). */
export function cvScore(data: Dataset, h: Hyper, cv: CvSpec): number {
  let total = 0;
  for (let f = 0; f < cv.folds; f++) total += validationLoss(data, train(data, h, cv, f), cv.folds, f);
  const score = total / cv.folds;
  return Number.isFinite(score) ? score : Number.POSITIVE_INFINITY;
}

/** The best of (index, score) pairs: lowest score, then lowest index. */
export function best(scores: ReadonlyArray<{ index: number; score: number }>): { index: number; score: number } | undefined {
  let top: { index: number; score: number } | undefined;
  for (const s of scores) if (top === undefined || s.score < top.score || (s.score === top.score && s.index < top.index)) top = s;
  return top;
}

/**
 * L2-regularised logistic regression, fitted by Newton's method (IRLS). The first `numericColumns`
 * columns are standardised with the training mean and population std (like sklearn's StandardScaler),
 * the rest (one-hot columns) are used as they are. The loss is
 *   sum_i logloss_i + l2 / 2 * ||w||^2   (the intercept is not penalised),
 * which is sklearn's LogisticRegression with C = 1 / l2.
 */

export interface LogisticRegressionOptions {
  readonly l2: number;
  readonly maxIterations: number;
  /** Converged when no coefficient moves by more than this in a Newton step. */
  readonly tolerance: number;
}

export interface LogisticRegressionModel {
  /** Standardisation of the numeric columns, (x - offset) * scale: the ONNX Scaler's attributes. */
  readonly offset: readonly number[];
  readonly scale: readonly number[];
  /** One weight per encoded column (on the standardised scale), then the intercept; float32 like the graph. */
  readonly weights: readonly number[];
  readonly intercept: number;
  readonly iterations: number;
}

export function trainLogisticRegression(
  rows: readonly Float64Array[],
  positive: readonly boolean[],
  numericColumns: number,
  options: LogisticRegressionOptions,
): LogisticRegressionModel {
  const width = (rows[0] as Float64Array).length;
  const { offset, scale } = standardisation(rows, numericColumns);
  // The design matrix: standardised columns, then a constant 1 for the intercept.
  const dimension = width + 1;
  const design = rows.map((row) => {
    const z = new Float64Array(dimension);
    for (let j = 0; j < width; j++) z[j] = j < numericColumns ? ((row[j] as number) - (offset[j] as number)) * (scale[j] as number) : (row[j] as number);
    z[width] = 1;
    return z;
  });
  const coefficients = new Float64Array(dimension);
  for (let iteration = 1; iteration <= options.maxIterations; iteration++) {
    const gradient = new Float64Array(dimension);
    const hessian = new Float64Array(dimension * dimension);
    design.forEach((z, i) => {
      const p = sigmoid(dot(coefficients, z));
      const residual = p - (positive[i] ? 1 : 0);
      const curvature = p * (1 - p);
      for (let a = 0; a < dimension; a++) {
        const za = z[a] as number;
        if (za === 0) continue;
        gradient[a]! += residual * za;
        for (let b = 0; b <= a; b++) hessian[a * dimension + b]! += curvature * za * (z[b] as number);
      }
    });
    for (let a = 0; a < width; a++) {
      gradient[a]! += options.l2 * (coefficients[a] as number);
      hessian[a * dimension + a]! += options.l2;
    }
    const step = solveSymmetricPositiveDefinite(hessian, gradient, dimension);
    let largestMove = 0;
    step.forEach((delta, a) => {
      coefficients[a]! -= delta;
      largestMove = Math.max(largestMove, Math.abs(delta));
    });
    if (largestMove < options.tolerance) {
      return {
        offset: offset.map(Math.fround),
        scale: scale.map(Math.fround),
        weights: [...coefficients.subarray(0, width)].map(Math.fround),
        intercept: Math.fround(coefficients[width] as number),
        iterations: iteration,
      };
    }
  }
  throw new Error(`logistic regression did not converge in ${options.maxIterations} Newton steps`);
}

/** P(positive) for one encoded row. */
export function logisticProbability(model: LogisticRegressionModel, row: Float64Array): number {
  let score = model.intercept;
  model.weights.forEach((weight, j) => {
    const x = row[j] as number;
    score += weight * (j < model.offset.length ? (x - (model.offset[j] as number)) * (model.scale[j] as number) : x);
  });
  return sigmoid(score);
}

function standardisation(rows: readonly Float64Array[], numericColumns: number) {
  const offset: number[] = [];
  const scale: number[] = [];
  for (let j = 0; j < numericColumns; j++) {
    const mean = rows.reduce((sum, row) => sum + (row[j] as number), 0) / rows.length;
    const variance = rows.reduce((sum, row) => sum + ((row[j] as number) - mean) ** 2, 0) / rows.length;
    offset.push(mean);
    // A constant column stays as it is rather than dividing by zero (sklearn does the same).
    scale.push(variance > 0 ? 1 / Math.sqrt(variance) : 1);
  }
  return { offset, scale };
}

function sigmoid(score: number): number {
  return 1 / (1 + Math.exp(-score));
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

/** Solves A x = b for symmetric positive definite A (lower triangle used), by Cholesky factorisation. */
function solveSymmetricPositiveDefinite(matrix: Float64Array, rhs: Float64Array, n: number): Float64Array {
  const lower = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = matrix[i * n + j] as number;
      for (let k = 0; k < j; k++) sum -= (lower[i * n + k] as number) * (lower[j * n + k] as number);
      if (i === j) {
        if (sum <= 0) throw new Error('Newton step: the Hessian is not positive definite');
        lower[i * n + i] = Math.sqrt(sum);
      } else {
        lower[i * n + j] = sum / (lower[j * n + j] as number);
      }
    }
  }
  const forward = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = rhs[i] as number;
    for (let k = 0; k < i; k++) sum -= (lower[i * n + k] as number) * (forward[k] as number);
    forward[i] = sum / (lower[i * n + i] as number);
  }
  const solution = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = forward[i] as number;
    for (let k = i + 1; k < n; k++) sum -= (lower[k * n + i] as number) * (solution[k] as number);
    solution[i] = sum / (lower[i * n + i] as number);
  }
  return solution;
}

import { mulberry32 } from '../../lambdas/core/random';

/**
 * Gradient-boosted regression trees for binary log loss, with second-order (Newton) leaf values and
 * split gains as in XGBoost:
 *   gain = G_L^2 / (H_L + l2) + G_R^2 / (H_R + l2) - G^2 / (H + l2),   leaf = -G / (H + l2) x learning rate,
 * where G and H sum the gradients p - y and hessians p (1 - p) of the rows in a node. Splits are exact
 * (every distinct value is a candidate) and each tree sees a seeded random subsample of the rows.
 */

export interface GradientBoostingOptions {
  readonly trees: number;
  readonly maxDepth: number;
  readonly learningRate: number;
  readonly l2: number;
  /** Fewest training rows in a leaf. */
  readonly minRowsPerLeaf: number;
  /** Share of the rows each tree is grown on. */
  readonly subsample: number;
  readonly seed: number;
}

/** A node is a split (x[feature] <= threshold goes to `left`) or a leaf adding `value` to the score. */
export type TreeNode =
  | { readonly kind: 'split'; readonly feature: number; readonly threshold: number; readonly left: number; readonly right: number }
  | { readonly kind: 'leaf'; readonly value: number };

export interface GradientBoostingModel {
  /** Log-odds of the positive class before any tree: the training prior. */
  readonly baseScore: number;
  /** Node 0 of each tree is its root. Thresholds and leaf values are float32, like the ONNX attributes. */
  readonly trees: readonly (readonly TreeNode[])[];
}

export function trainGradientBoosting(rows: readonly Float64Array[], positive: readonly boolean[], options: GradientBoostingOptions): GradientBoostingModel {
  const random = mulberry32(options.seed);
  const width = (rows[0] as Float64Array).length;
  const labels = positive.map((p) => (p ? 1 : 0));
  const positiveShare = labels.reduce((sum: number, y) => sum + y, 0) / labels.length;
  const baseScore = Math.fround(Math.log(positiveShare / (1 - positiveShare)));
  // Rows sorted by each column once; every level of every tree scans these orders.
  const orderByColumn = Array.from({ length: width }, (_, column) => Int32Array.from(rows.keys()).sort((a, b) => (rows[a]![column] as number) - (rows[b]![column] as number)));
  const scores = new Float64Array(rows.length).fill(baseScore);
  const trees: TreeNode[][] = [];
  for (let t = 0; t < options.trees; t++) {
    const gradients = new Float64Array(rows.length);
    const hessians = new Float64Array(rows.length);
    scores.forEach((score, i) => {
      const p = 1 / (1 + Math.exp(-score));
      gradients[i] = p - (labels[i] as number);
      hessians[i] = p * (1 - p);
    });
    const sampled = rows.map(() => random() < options.subsample);
    const tree = growTree(rows, orderByColumn, gradients, hessians, sampled, options);
    trees.push(tree);
    rows.forEach((row, i) => {
      scores[i]! += treeValue(tree, row);
    });
  }
  return { baseScore, trees };
}

/** P(positive) for one encoded row. */
export function boostedProbability(model: GradientBoostingModel, row: Float64Array): number {
  const score = model.trees.reduce((sum, tree) => sum + treeValue(tree, row), model.baseScore);
  return 1 / (1 + Math.exp(-score));
}

function treeValue(tree: readonly TreeNode[], row: Float64Array): number {
  let node = tree[0] as TreeNode;
  while (node.kind === 'split') node = tree[(row[node.feature] as number) <= node.threshold ? node.left : node.right] as TreeNode;
  return node.value;
}

interface NodeStatistics {
  gradient: number;
  hessian: number;
  rows: number;
}

interface BestSplit {
  gain: number;
  feature: number;
  threshold: number;
}

/** Grows one tree level by level; `nodeOfRow` tracks the open node each sampled row sits in (-1: none). */
function growTree(
  rows: readonly Float64Array[],
  orderByColumn: readonly Int32Array[],
  gradients: Float64Array,
  hessians: Float64Array,
  sampled: readonly boolean[],
  options: GradientBoostingOptions,
): TreeNode[] {
  const tree: (TreeNode | NodeStatistics)[] = [{ gradient: 0, hessian: 0, rows: 0 }];
  const nodeOfRow = new Int32Array(rows.length).fill(-1);
  sampled.forEach((inSample, i) => {
    if (!inSample) return;
    nodeOfRow[i] = 0;
    const root = tree[0] as NodeStatistics;
    root.gradient += gradients[i] as number;
    root.hessian += hessians[i] as number;
    root.rows++;
  });
  let open = [0];
  for (let depth = 0; depth < options.maxDepth && open.length > 0; depth++) {
    const openStatistics = new Map(open.map((id) => [id, tree[id] as NodeStatistics]));
    const best = bestSplits(rows, orderByColumn, gradients, hessians, nodeOfRow, openStatistics, tree.length, options);
    const next: number[] = [];
    const children = new Map<number, [number, number]>();
    for (const id of open) {
      const split = best.get(id);
      if (!split) continue;
      const left = tree.push({ gradient: 0, hessian: 0, rows: 0 }) - 1;
      const right = tree.push({ gradient: 0, hessian: 0, rows: 0 }) - 1;
      children.set(id, [left, right]);
      next.push(left, right);
    }
    nodeOfRow.forEach((id, i) => {
      if (id === -1) return;
      const pair = children.get(id);
      if (!pair) {
        nodeOfRow[i] = -1;
        return;
      }
      const split = best.get(id) as BestSplit;
      const child = (rows[i]![split.feature] as number) <= split.threshold ? pair[0] : pair[1];
      nodeOfRow[i] = child;
      const statistics = tree[child] as NodeStatistics;
      statistics.gradient += gradients[i] as number;
      statistics.hessian += hessians[i] as number;
      statistics.rows++;
    });
    for (const [id, [left, right]] of children) {
      const { feature, threshold } = best.get(id) as BestSplit;
      tree[id] = { kind: 'split', feature, threshold, left, right };
    }
    open = next;
  }
  return tree.map((node) => {
    if ('kind' in node) return node;
    const value = (-node.gradient / (node.hessian + options.l2)) * options.learningRate;
    return { kind: 'leaf', value: Math.fround(value) };
  });
}

/** The best split of every open node, scanning each column's sorted order once for all of them. */
function bestSplits(
  rows: readonly Float64Array[],
  orderByColumn: readonly Int32Array[],
  gradients: Float64Array,
  hessians: Float64Array,
  nodeOfRow: Int32Array,
  open: ReadonlyMap<number, NodeStatistics>,
  nodeCount: number,
  options: GradientBoostingOptions,
): Map<number, BestSplit> {
  const best = new Map<number, BestSplit>();
  const score = (g: number, h: number) => (g * g) / (h + options.l2);
  // Running sums of the rows left of the scan position, per node id (typed arrays: this is the hot loop).
  const leftGradient = new Float64Array(nodeCount);
  const leftHessian = new Float64Array(nodeCount);
  const leftRows = new Int32Array(nodeCount);
  const lastValue = new Float64Array(nodeCount);
  const totals: (NodeStatistics | undefined)[] = Array.from({ length: nodeCount }, (_, id) => open.get(id));
  for (let column = 0; column < orderByColumn.length; column++) {
    leftGradient.fill(0);
    leftHessian.fill(0);
    leftRows.fill(0);
    for (const i of orderByColumn[column] as Int32Array) {
      const id = nodeOfRow[i] as number;
      const total = id === -1 ? undefined : totals[id];
      if (!total) continue;
      const value = rows[i]![column] as number;
      const rowsLeft = leftRows[id] as number;
      if (rowsLeft >= options.minRowsPerLeaf && total.rows - rowsLeft >= options.minRowsPerLeaf && value !== lastValue[id]) {
        const g = leftGradient[id] as number;
        const h = leftHessian[id] as number;
        const gain = score(g, h) + score(total.gradient - g, total.hessian - h) - score(total.gradient, total.hessian);
        if (gain > (best.get(id)?.gain ?? 0)) best.set(id, { gain, feature: column, threshold: threshold(lastValue[id] as number, value) });
      }
      leftGradient[id]! += gradients[i] as number;
      leftHessian[id]! += hessians[i] as number;
      leftRows[id] = rowsLeft + 1;
      lastValue[id] = value;
    }
  }
  return best;
}

/**
 * A float32 threshold t with below <= t < above (both float32): the midpoint when float32 can hold
 * one strictly below `above`, else `below` itself. ONNX compares float32 inputs with float32 thresholds,
 * so the tree splits the same rows there as here.
 */
function threshold(below: number, above: number): number {
  const middle = Math.fround((below + above) / 2);
  return middle >= below && middle < above ? middle : below;
}

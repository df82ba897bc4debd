import * as ort from 'onnxruntime-node';
import { column, type CsvTable } from '../../lambdas/core/csv';
import type { Manifest } from '../../lambdas/core/manifest';

/**
 * What onnxruntime itself gives for the rows of a CSV, with no modelgate code between: each manifest input fed
 * as one [N, 1] tensor of its feature's column (blank numbers as NaN); returns the probabilities output, one
 * array per row in the manifest's classLabels order.
 */
export async function onnxProbabilities(manifest: Manifest, model: Uint8Array, table: CsvTable): Promise<number[][]> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of manifest.inputs) {
    const cells = column(table, input.features[0] as string);
    feeds[input.name] =
      input.dtype === 'string'
        ? new ort.Tensor('string', cells, [cells.length, 1])
        : new ort.Tensor(
            'float32',
            Float32Array.from(cells, (cell) => (cell === '' ? NaN : Number(cell))),
            [cells.length, 1],
          );
  }
  const session = await ort.InferenceSession.create(model);
  try {
    const output = await session.run(feeds);
    const probabilities = output[manifest.outputs.probabilities as string]?.data as Float32Array;
    const classes = (manifest.classLabels ?? []).length;
    return Array.from({ length: table.rows.length }, (_, row) => Array.from(probabilities.subarray(row * classes, (row + 1) * classes)));
  } finally {
    await session.release();
  }
}

// The layout of a batch job's output (docs/batch.md): per part, one line per scored row in input order — the id
// (the id column under its input name, else `row`), the model version, the label and the probabilities (or the
// value, or the scores), optionally the input row joined — as CSV or JSON Lines like the input; and the rejected
// rows with row, field and reason.
import type { BatchFormat } from '../../contracts/batch-job';
import type { Manifest } from '../manifest';
import type { RowPrediction } from '../tensors';
import type { RowSource } from './rows';
import type { Rejection, ScoredBatch } from './score';

/** The output's columns after the id, for the manifest's task and outputs. */
export function predictionColumns(manifest: Manifest): string[] {
  if (manifest.task === 'regression') return ['version', 'value'];
  const classes = (manifest.classLabels ?? []).map(String);
  return [
    'version',
    'label',
    ...(manifest.outputs.probabilities !== undefined ? classes.map((c) => `probability_${c}`) : []),
    ...(manifest.outputs.scores !== undefined ? classes.map((c) => `score_${c}`) : []),
  ];
}

/** The id column of the output: the input's id column, else `row` (the 1-based row number). */
export function idColumnName(idColumn: string | undefined): string {
  return idColumn ?? 'row';
}

/** A joined output's input rows (SageMaker's JoinSource=Input): the chunk's rows and, for CSV, the input's header. */
export interface JoinedInput {
  readonly rows: RowSource;
  readonly header: readonly string[] | undefined;
}

/**
 * The text of a part: the scored rows of a batch, a header line first for CSV. Joined, a CSV line is the input
 * line as it is (after `row` when there is no id column) followed by the prediction's columns, and a JSON line
 * carries the input record under `input`.
 */
export function formatPredictions(
  manifest: Manifest,
  scored: Pick<ScoredBatch, 'predictions' | 'ids'> & Partial<Pick<ScoredBatch, 'rowNumbers'>>,
  format: BatchFormat,
  idColumn: string | undefined,
  joined?: JoinedInput,
): string {
  const idName = idColumnName(idColumn);
  const version = manifest.version;
  const inputOf = (r: number) => (joined as JoinedInput).rows.text(((scored.rowNumbers as Int32Array)[r] as number) - (joined as JoinedInput).rows.firstRow);
  if (format === 'jsonl') {
    const lines: string[] = [];
    scored.predictions.forEach((prediction, r) => {
      lines.push(JSON.stringify({ [idName]: scored.ids[r], version, ...answer(prediction), ...(joined ? { input: JSON.parse(inputOf(r)) } : {}) }));
    });
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }
  const classes = (manifest.classLabels ?? []).map(String);
  const withProbabilities = manifest.outputs.probabilities !== undefined;
  const withScores = manifest.outputs.scores !== undefined;
  const leading = joined ? [...(idColumn === undefined ? [idName] : []), ...(joined.header ?? [])] : [idName];
  // One text grown line by line (no array of lines to join); the label's CSV field made once per class.
  let text = `${[...leading, ...predictionColumns(manifest)].map(csvField).join(',')}\n`;
  const versionField = `,${csvField(version)},`;
  const labelFields = new Map<string | number, string>();
  const { predictions, ids } = scored;
  for (let r = 0; r < predictions.length; r++) {
    const prediction = predictions[r] as RowPrediction;
    const id = ids[r] as string | number;
    const idField = typeof id === 'number' ? String(id) : csvField(id);
    let line = joined ? `${idColumn === undefined ? `${idField},` : ''}${inputOf(r)}${versionField}` : `${idField}${versionField}`;
    if (manifest.task === 'regression') {
      line += Array.isArray(prediction.value) ? csvField(JSON.stringify(prediction.value)) : String(prediction.value);
    } else {
      const label = prediction.label as string | number;
      let labelField = labelFields.get(label);
      if (labelField === undefined) labelFields.set(label, (labelField = csvField(label)));
      line += labelField;
      if (withProbabilities) for (const c of classes) line += `,${(prediction.probabilities as Record<string, number>)[c]}`;
      if (withScores) for (const c of classes) line += `,${(prediction.scores as Record<string, number>)[c]}`;
    }
    text += `${line}\n`;
  }
  return text;
}

/** The text of a part's rejected rows: row, id (with an id column), field, reason. */
export function formatRejections(rejections: readonly Rejection[], format: BatchFormat, idColumn: string | undefined): string {
  if (format === 'jsonl') {
    return rejections.map((r) => `${JSON.stringify({ row: r.row, ...(idColumn !== undefined ? { [idColumn]: r.id ?? null } : {}), field: r.field, reason: r.reason })}\n`).join('');
  }
  const header = ['row', ...(idColumn !== undefined ? [idColumn] : []), 'field', 'reason'].map(csvField).join(',');
  const lines = rejections.map((r) => [r.row, ...(idColumn !== undefined ? [r.id ?? ''] : []), r.field, r.reason].map(csvField).join(','));
  return `${[header, ...lines].join('\n')}\n`;
}

function answer(prediction: RowPrediction): Record<string, unknown> {
  const { label, probabilities, scores, value } = prediction;
  return {
    ...(label !== undefined ? { label } : {}),
    ...(probabilities !== undefined ? { probabilities } : {}),
    ...(scores !== undefined ? { scores } : {}),
    ...(value !== undefined ? { value } : {}),
  };
}

/** A CSV field, quoted when it holds a delimiter, a quote or a line break (RFC 4180). */
export function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

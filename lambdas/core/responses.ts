import type { Manifest } from './manifest';
import type { PassThroughValues } from './pass-through';
import type { RowPrediction } from './tensors';

/** Body of a /v1 predict answer: each prediction carries the pass-through values its instance sent, under `passThrough`. */
export function predictResponse(
  manifest: Manifest,
  predictionIds: readonly string[],
  predictions: readonly RowPrediction[],
  passThrough?: readonly (PassThroughValues | undefined)[],
) {
  return {
    model: { name: manifest.name, version: manifest.version },
    predictions: predictions.map((prediction, i) => {
      const values = passThrough?.[i];
      return Object.assign({ predictionId: predictionIds[i] as string }, prediction, values ? { passThrough: values } : {});
    }),
  };
}

/** The output tensors of an infer answer; a pass-through field cannot be named like one (manifest.ts). */
export const INFER_OUTPUT_NAMES = ['prediction_id', 'label', 'probabilities', 'scores', 'value'] as const;

interface OipTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

/**
 * Body of an Open Inference Protocol infer answer: one output tensor per part of the prediction
 * (`prediction_id` and `label` as BYTES, `probabilities` [N, C] in classLabels order, `value`), then one
 * [N] tensor per pass-through field the request sent (BYTES when any value is a string, else INT64 or FP64;
 * null where a row had none).
 */
export function inferResponse(
  manifest: Manifest,
  requestId: string,
  predictionIds: readonly string[],
  predictions: readonly RowPrediction[],
  passThrough?: readonly (PassThroughValues | undefined)[],
) {
  const n = predictions.length;
  const outputs: OipTensor[] = [{ name: 'prediction_id', shape: [n], datatype: 'BYTES', data: [...predictionIds] }];
  if (manifest.task === 'regression') {
    const first = predictions[0]?.value;
    const width = Array.isArray(first) ? first.length : 1;
    outputs.push({ name: 'value', shape: width === 1 ? [n] : [n, width], datatype: 'FP64', data: predictions.flatMap((p) => p.value as number | number[]) });
  } else {
    const labels = predictions.map((p) => p.label);
    const numeric = labels.every((l) => typeof l === 'number');
    outputs.push({ name: 'label', shape: [n], datatype: numeric ? 'INT64' : 'BYTES', data: labels });
    const classes = (manifest.classLabels ?? []).map(String);
    for (const part of ['probabilities', 'scores'] as const) {
      if (!predictions[0]?.[part]) continue;
      outputs.push({
        name: part,
        shape: [n, classes.length],
        datatype: 'FP32',
        data: predictions.flatMap((p) => classes.map((c) => p[part]?.[c] as number)),
      });
    }
  }
  for (const { name } of manifest.passThrough ?? []) {
    const values = predictions.map((_, i) => passThrough?.[i]?.[name] ?? null);
    if (values.every((value) => value === null)) continue;
    const text = values.some((value) => typeof value === 'string');
    const datatype = text ? 'BYTES' : values.every((value) => value === null || Number.isSafeInteger(value)) ? 'INT64' : 'FP64';
    outputs.push({ name, shape: [n], datatype, data: text ? values.map((value) => (value === null ? null : String(value))) : values });
  }
  return { model_name: manifest.name, model_version: manifest.version, id: requestId, outputs };
}

const oipDatatype: Readonly<Record<string, string>> = { number: 'FP32', integer: 'INT64', string: 'BYTES', boolean: 'BOOL' };

/** Body of an Open Inference Protocol model metadata answer (GET /v2/models/{name}). */
export function modelMetadata(manifest: Manifest) {
  return {
    name: manifest.name,
    versions: [manifest.version],
    platform: 'onnxruntime',
    inputs: manifest.features.map((f) => ({ name: f.name, datatype: oipDatatype[f.type], shape: [-1] })),
    outputs:
      manifest.task === 'regression'
        ? [{ name: 'value', datatype: 'FP64', shape: [-1] }]
        : [
            { name: 'label', datatype: 'BYTES', shape: [-1] },
            { name: 'probabilities', datatype: 'FP32', shape: [-1, manifest.classLabels?.length ?? 0] },
          ],
    parameters: { task: manifest.task, classLabels: manifest.classLabels ?? null },
  };
}

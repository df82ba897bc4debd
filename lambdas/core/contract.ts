import type { Issue } from './errors';
import type { FeatureValue, Manifest } from './manifest';
import type { ModelDescription } from './onnx-graph';
import type { Row } from './request';

/**
 * Checks that the model's declared graph answers the manifest's contract: every ONNX input is fed by
 * the manifest with the right element type and rank, every output the manifest names exists as a
 * tensor, and a fixed batch dimension matches `batchSize`. Returns the problems (empty when sound).
 */
export function contractIssues(manifest: Manifest, model: ModelDescription): Issue[] {
  const issues: Issue[] = [];
  const declared = new Map(model.inputs.map((i) => [i.name, i]));
  manifest.inputs.forEach((input, i) => {
    const graphInput = declared.get(input.name);
    if (!graphInput) {
      issues.push({ field: `inputs[${i}].name`, reason: `the model has no input "${input.name}" (inputs: ${[...declared.keys()].join(', ')})` });
      return;
    }
    if (graphInput.type !== input.dtype) {
      issues.push({ field: `inputs[${i}].dtype`, reason: `the model's input "${input.name}" is ${graphInput.type}, the manifest says ${input.dtype}` });
    }
    const dims = graphInput.dims;
    if (dims) {
      const rank = input.rank ?? 2;
      if (dims.length !== rank) {
        issues.push({ field: `inputs[${i}].rank`, reason: `the model's input "${input.name}" has rank ${dims.length}, the manifest says ${rank}` });
      } else {
        const width = dims[1];
        if (rank === 2 && typeof width === 'number' && width > 0 && width !== input.features.length) {
          issues.push({
            field: `inputs[${i}].features`,
            reason: `the model's input "${input.name}" takes ${width} values per row, the manifest maps ${input.features.length} features`,
          });
        }
        const batch = dims[0];
        if (typeof batch === 'number' && batch > 0 && batch !== (manifest.batchSize ?? -1)) {
          issues.push({ field: 'batchSize', reason: `the model's input "${input.name}" has a fixed batch size of ${batch}; set "batchSize": ${batch}` });
        }
      }
    }
  });
  const fed = new Set(manifest.inputs.map((i) => i.name));
  for (const graphInput of model.inputs) {
    if (!fed.has(graphInput.name)) issues.push({ field: 'inputs', reason: `the model's input "${graphInput.name}" is not fed by any manifest input` });
  }
  const outputs = new Map(model.outputs.map((o) => [o.name, o]));
  for (const [role, name] of Object.entries(manifest.outputs)) {
    const output = outputs.get(name as string);
    if (!output) {
      issues.push({ field: `outputs.${role}`, reason: `the model has no output "${name}" (outputs: ${[...outputs.keys()].join(', ')})` });
    } else if (output.type === 'sequence' || output.type === 'map') {
      issues.push({ field: `outputs.${role}`, reason: `output "${name}" is a ${output.type}, not a tensor (a ZipMap left in the graph)` });
    }
  }
  return issues.filter((issue, i) => issues.findIndex((o) => o.field === issue.field && o.reason === issue.reason) === i);
}

/** A plausible row built from the manifest alone, to warm the session up at init. */
export function exampleRow(manifest: Manifest): Row {
  const row: Row = {};
  for (const feature of manifest.features) {
    let value: FeatureValue;
    if (feature.default !== undefined) value = feature.default;
    else if (feature.categories?.[0] !== undefined) value = feature.categories[0];
    else if (feature.type === 'string') value = '';
    else if (feature.type === 'boolean') value = false;
    else {
      // Integer features may declare fractional bounds; the example must still be an integer inside them.
      const integer = feature.type === 'integer';
      const min = feature.min === undefined ? 0 : integer ? Math.ceil(feature.min) : feature.min;
      const max = feature.max === undefined ? Number.POSITIVE_INFINITY : integer ? Math.floor(feature.max) : feature.max;
      value = Math.min(Math.max(0, min), max);
    }
    row[feature.name] = value;
  }
  return row;
}

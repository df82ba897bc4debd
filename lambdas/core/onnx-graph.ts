import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** One graph input or output as declared by the model: dims are numbers, or names for free dimensions. */
export interface TensorSignature {
  readonly name: string;
  /** float32, float64, int64, string, bool, ... or `sequence`/`map` for non-tensor values (ZipMap). */
  readonly type: string;
  readonly dims?: readonly (number | string)[];
}

export interface ModelDescription {
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
  readonly producer: string;
  readonly opsets: Readonly<Record<string, number>>;
  /** Class labels declared by a classifier node (LinearClassifier, TreeEnsembleClassifier, ...). */
  readonly classLabels?: readonly (string | number)[];
}

/** The bytes are not an ONNX model (protobuf decoding failed or there is no graph). */
export class OnnxFormatError extends Error {
  override readonly name = 'OnnxFormatError';
}

const elementTypes: Readonly<Record<number, string>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
};

function decode(bytes: Uint8Array): DecodedModel {
  let model;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new OnnxFormatError(`not an ONNX model: ${(error as Error).message}`);
  }
  if (!model.graph || (model.graph.node ?? []).length === 0) throw new OnnxFormatError('not an ONNX model: no graph nodes');
  return model;
}

function signature(info: onnxProto.onnx.IValueInfoProto): TensorSignature {
  const type = info.type;
  if (type?.tensorType) {
    const dims = type.tensorType.shape?.dim?.map((d) => (d.dimParam ? d.dimParam : d.dimValue != null ? Number(d.dimValue) : '?'));
    return { name: info.name ?? '', type: elementTypes[type.tensorType.elemType ?? 0] ?? 'unknown', ...(dims ? { dims } : {}) };
  }
  return { name: info.name ?? '', type: type?.sequenceType ? 'sequence' : type?.mapType ? 'map' : 'unknown' };
}

type DecodedModel = InstanceType<typeof onnx.ModelProto>;

/** Reads the model's inputs, outputs, opsets and declared class labels without running it. */
export function describeModel(bytes: Uint8Array): ModelDescription {
  return describeDecoded(decode(bytes));
}

function describeDecoded(model: DecodedModel): ModelDescription {
  const graph = model.graph as onnxProto.onnx.IGraphProto;
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const opsets: Record<string, number> = {};
  for (const opset of model.opsetImport ?? []) opsets[opset.domain || 'ai.onnx'] = Number(opset.version);
  const classLabels = declaredClassLabels(graph);
  return {
    inputs: (graph.input ?? []).filter((i) => !initializers.has(i.name)).map(signature),
    outputs: (graph.output ?? []).map(signature),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets,
    ...(classLabels ? { classLabels } : {}),
  };
}

function declaredClassLabels(graph: onnxProto.onnx.IGraphProto): (string | number)[] | undefined {
  for (const node of graph.node ?? []) {
    for (const attribute of node.attribute ?? []) {
      if (attribute.name === 'classlabels_strings' && attribute.strings?.length) {
        return attribute.strings.map((s) => new TextDecoder().decode(s));
      }
      if ((attribute.name === 'classlabels_ints' || attribute.name === 'classlabels_int64s') && attribute.ints?.length) {
        return attribute.ints.map((i) => Number(i));
      }
    }
  }
  return undefined;
}

export interface PreparedModel {
  /** The model to hand to onnxruntime: the input bytes, or re-encoded without ZipMap. */
  readonly bytes: Uint8Array;
  /** Its signature after ZipMap removal. */
  readonly description: ModelDescription;
  readonly zipMapsRemoved: number;
}

/**
 * Makes a model servable with one protobuf decode: every ai.onnx.ml ZipMap node becomes an Identity of
 * its input (the probability tensor), so the output keeps its name but is a float tensor [N, C] that
 * onnxruntime-node can return (it cannot return ZipMap's sequence of maps).
 */
export function prepareModel(bytes: Uint8Array): PreparedModel {
  const model = decode(bytes);
  const graph = model.graph as onnxProto.onnx.GraphProto;
  // onnxruntime reads a model from bytes here, with no folder to find a tensor's external file in.
  const external = graph.initializer.find((tensor) => tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
  if (external) {
    const location = (external.externalData ?? []).find((entry) => entry.key === 'location')?.value ?? '?';
    throw new OnnxFormatError(
      `the model keeps tensor "${external.name}" in the external file "${location}" (onnx save_as_external_data, mlflow.onnx's default); ` +
        'save it as one file: onnx.save_model(onnx.load("model.onnx"), "model-one-file.onnx", save_as_external_data=False)',
    );
  }
  let removed = 0;
  for (const node of graph.node) {
    if (node.opType !== 'ZipMap') continue;
    const input = node.input?.[0] as string;
    const output = node.output?.[0] as string;
    node.opType = 'Identity';
    node.domain = '';
    node.attribute = [];
    removed++;
    const source = [...graph.valueInfo, ...graph.output].find((v) => v.name === input && v.type?.tensorType);
    const graphOutput = graph.output.find((o) => o.name === output);
    if (graphOutput) {
      graphOutput.type = onnx.TypeProto.create({
        tensorType: source?.type?.tensorType ?? onnx.TypeProto.Tensor.create({ elemType: 1 }),
      });
    }
  }
  // Identity lives in the default domain, which models made only of ai.onnx.ml operators do not import.
  if (removed > 0 && !model.opsetImport.some((opset) => !opset.domain || opset.domain === 'ai.onnx')) {
    model.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: '', version: 13 }));
  }
  return {
    bytes: removed === 0 ? bytes : onnx.ModelProto.encode(model).finish(),
    description: describeDecoded(model),
    zipMapsRemoved: removed,
  };
}

/** The model without ZipMap (see prepareModel); the bytes are returned unchanged when there is none. */
export function removeZipMap(bytes: Uint8Array): { bytes: Uint8Array; removed: number } {
  const prepared = prepareModel(bytes);
  return { bytes: prepared.bytes, removed: prepared.zipMapsRemoved };
}

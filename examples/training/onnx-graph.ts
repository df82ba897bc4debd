import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';
import type { FeatureSpec, TensorDtype } from '../../lambdas/core/manifest-types';
import { oneHotWidth, type Encoding } from './encoding';
import type { GradientBoostingModel } from './gradient-boosting';
import type { LogisticRegressionModel } from './logistic-regression';

// onnx-proto is CommonJS: under ESM only its default export is visible.
const { onnx } = onnxProto;
const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;

/**
 * Binary classifiers as ONNX models with their preprocessing inside the graph, in the shape that
 * skl2onnx gives a ColumnTransformer + classifier pipeline:
 *
 *   numeric inputs  -> Concat -> Imputer (training medians) [-> Scaler] ---------------------+
 *   string inputs   -> OneHotEncoder ----------------------------------+                      +-> Concat -> classifier
 *   integer categories -> Cast(int64) -> OneHotEncoder -> Concat(axis 2) -> Reshape [N, K] --+      -> label, probabilities
 *
 * One input per feature, shape [N, 1]: float32 for numbers and integers, string for strings. Outputs:
 * `label` ([N], string or int64 like the class labels) and `probabilities` (float32 [N, 2], in class label
 * order), no ZipMap.
 */

export const OPSETS = { 'ai.onnx': 17, 'ai.onnx.ml': 3 } as const;
/** IR version 8 goes with opset 17 (ONNX 1.12); onnx-proto 8 holds exactly that proto. */
const IR_VERSION = 8;
const ML = 'ai.onnx.ml';

/** What the model says about itself, and its classes. */
export interface ModelDescription {
  /** The graph's name and doc string. */
  readonly name: string;
  readonly docString: string;
  /** The model's producer: the script that wrote it. */
  readonly producer: string;
  /** Negative class first. Strings make a string label output, integers an int64 one. */
  readonly classLabels: readonly [string, string] | readonly [number, number];
}

/** The graph input dtype of a feature. */
export function inputDtype(feature: FeatureSpec): TensorDtype {
  return feature.type === 'string' ? 'string' : 'float32';
}

/**
 * LinearClassifier with one row of coefficients per class, [-w, w] and intercepts [-b, b], and a
 * LOGISTIC post-transform: the scores become [sigmoid(-z), sigmoid(z)] = [P(negative), P(positive)], which already
 * sum to one (skl2onnx adds a Normalizer that changes nothing here).
 */
export function logisticRegressionOnnx(features: readonly FeatureSpec[], encoding: Encoding, model: LogisticRegressionModel, description: ModelDescription): Uint8Array {
  const classifier = node('LinearClassifier', ['features'], ['label', 'probabilities'], ML, [
    classLabels(description),
    floats('coefficients', [...model.weights.map((w) => -w), ...model.weights]),
    floats('intercepts', [-model.intercept, model.intercept]),
    string('post_transform', 'LOGISTIC'),
  ]);
  return encodeModel(description, features, encoding, model, classifier);
}

/**
 * TreeEnsembleClassifier in onnxruntime's binary convention (the one skl2onnx uses for sklearn's
 * GradientBoostingClassifier): every leaf weight goes to class id 0 and holds log-odds of the
 * *positive* class; base_values = [prior log-odds]; with a LOGISTIC post-transform onnxruntime outputs
 * [sigmoid(-s), sigmoid(s)] and the label classlabels[1] when s > 0. That label rule needs some negative
 * weight: when every weight is positive, onnxruntime 1.30 still outputs the sigmoids but picks the label
 * by s > 0.5, as if s were a probability, so label and probabilities disagree (checked).
 */
export function gradientBoostingOnnx(features: readonly FeatureSpec[], encoding: Encoding, model: GradientBoostingModel, description: ModelDescription): Uint8Array {
  const nodes = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    modes: [] as string[],
    values: [] as number[],
    trueIds: [] as number[],
    falseIds: [] as number[],
  };
  const leaves = { treeIds: [] as number[], nodeIds: [] as number[], weights: [] as number[] };
  model.trees.forEach((tree, treeId) => {
    tree.forEach((treeNode, nodeId) => {
      nodes.treeIds.push(treeId);
      nodes.nodeIds.push(nodeId);
      if (treeNode.kind === 'split') {
        nodes.featureIds.push(treeNode.feature);
        nodes.modes.push('BRANCH_LEQ');
        nodes.values.push(treeNode.threshold);
        nodes.trueIds.push(treeNode.left);
        nodes.falseIds.push(treeNode.right);
      } else {
        nodes.featureIds.push(0);
        nodes.modes.push('LEAF');
        nodes.values.push(0);
        nodes.trueIds.push(0);
        nodes.falseIds.push(0);
        leaves.treeIds.push(treeId);
        leaves.nodeIds.push(nodeId);
        leaves.weights.push(treeNode.value);
      }
    });
  });
  if (leaves.weights.every((weight) => weight >= 0)) {
    throw new Error('every leaf weight is positive: onnxruntime would label rows by score > 0.5 (see gradientBoostingOnnx)');
  }
  const classifier = node('TreeEnsembleClassifier', ['features'], ['label', 'probabilities'], ML, [
    ints('nodes_treeids', nodes.treeIds),
    ints('nodes_nodeids', nodes.nodeIds),
    ints('nodes_featureids', nodes.featureIds),
    strings('nodes_modes', nodes.modes),
    floats('nodes_values', nodes.values),
    ints('nodes_truenodeids', nodes.trueIds),
    ints('nodes_falsenodeids', nodes.falseIds),
    ints('class_treeids', leaves.treeIds),
    ints('class_nodeids', leaves.nodeIds),
    ints(
      'class_ids',
      leaves.weights.map(() => 0),
    ),
    floats('class_weights', leaves.weights),
    classLabels(description),
    floats('base_values', [model.baseScore]),
    string('post_transform', 'LOGISTIC'),
  ]);
  return encodeModel(description, features, encoding, undefined, classifier);
}

function encodeModel(
  description: ModelDescription,
  features: readonly FeatureSpec[],
  encoding: Encoding,
  standardisation: { readonly offset: readonly number[]; readonly scale: readonly number[] } | undefined,
  classifier: OnnxTypes.INodeProto,
): Uint8Array {
  const nodes: OnnxTypes.INodeProto[] = [
    node('Concat', encoding.numeric, ['numeric'], '', [int('axis', 1)]),
    node('Imputer', ['numeric'], ['numeric_imputed'], ML, [floats('imputed_value_floats', encoding.imputeValues), float('replaced_value_float', NaN)]),
  ];
  let numericOutput = 'numeric_imputed';
  if (standardisation) {
    nodes.push(node('Scaler', ['numeric_imputed'], ['numeric_scaled'], ML, [floats('offset', standardisation.offset), floats('scale', standardisation.scale)]));
    numericOutput = 'numeric_scaled';
  }
  // OneHotEncoder maps [N, 1] to [N, 1, categories]; the blocks join on axis 2, then flatten to [N, K].
  const oneHotBlocks = encoding.categorical.map(({ name: feature, categories }) => {
    const output = `${feature}_onehot`;
    if (categories.every((category) => typeof category === 'string')) {
      nodes.push(node('OneHotEncoder', [feature], [output], ML, [strings('cats_strings', categories as string[]), int('zeros', 1)]));
    } else {
      nodes.push(node('Cast', [feature], [`${feature}_int64`], '', [int('to', DataType.INT64)]));
      nodes.push(node('OneHotEncoder', [`${feature}_int64`], [output], ML, [ints('cats_int64s', categories as number[]), int('zeros', 1)]));
    }
    return output;
  });
  nodes.push(
    node('Concat', oneHotBlocks, ['onehot_blocks'], '', [int('axis', 2)]),
    node('Reshape', ['onehot_blocks', 'onehot_shape'], ['onehot'], ''),
    node('Concat', [numericOutput, 'onehot'], ['features'], '', [int('axis', 1)]),
    classifier,
  );
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: description.producer,
    docString: description.docString,
    opsetImport: Object.entries(OPSETS).map(([domain, version]) => ({ domain: domain === 'ai.onnx' ? '' : domain, version })),
    graph: {
      name: description.name,
      node: nodes.map((n, i) => ({ ...n, name: `${n.opType}_${i}` })),
      initializer: [{ name: 'onehot_shape', dataType: DataType.INT64, dims: [2], int64Data: [-1, oneHotWidth(encoding)] }],
      input: features.map((feature) => tensorInfo(feature.name, inputDtype(feature) === 'string' ? DataType.STRING : DataType.FLOAT, [{ dimParam: 'N' }, { dimValue: 1 }])),
      output: [
        tensorInfo('label', labelsAreStrings(description) ? DataType.STRING : DataType.INT64, [{ dimParam: 'N' }]),
        tensorInfo('probabilities', DataType.FLOAT, [{ dimParam: 'N' }, { dimValue: description.classLabels.length }]),
      ],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

function labelsAreStrings(description: ModelDescription): boolean {
  return typeof description.classLabels[0] === 'string';
}

/** The classifier's class labels attribute, for the labels' type. */
function classLabels(description: ModelDescription): OnnxTypes.IAttributeProto {
  return labelsAreStrings(description)
    ? strings('classlabels_strings', description.classLabels as readonly string[])
    : ints('classlabels_ints', description.classLabels as readonly number[]);
}

function node(opType: string, input: readonly string[], output: readonly string[], domain: string, attribute: OnnxTypes.IAttributeProto[] = []): OnnxTypes.INodeProto {
  return { opType, input: [...input], output: [...output], domain, attribute };
}

function tensorInfo(name: string, elemType: number, dim: OnnxTypes.TensorShapeProto.IDimension[]): OnnxTypes.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

const utf8 = new TextEncoder();

function int(name: string, i: number): OnnxTypes.IAttributeProto {
  return { name, type: AttributeType.INT, i };
}
function float(name: string, f: number): OnnxTypes.IAttributeProto {
  return { name, type: AttributeType.FLOAT, f };
}
function string(name: string, s: string): OnnxTypes.IAttributeProto {
  return { name, type: AttributeType.STRING, s: utf8.encode(s) };
}
function ints(name: string, values: readonly number[]): OnnxTypes.IAttributeProto {
  return { name, type: AttributeType.INTS, ints: [...values] };
}
function floats(name: string, values: readonly number[]): OnnxTypes.IAttributeProto {
  return { name, type: AttributeType.FLOATS, floats: [...values] };
}
function strings(name: string, values: readonly string[]): OnnxTypes.IAttributeProto {
  return { name, type: AttributeType.STRINGS, strings: values.map((value) => utf8.encode(value)) };
}

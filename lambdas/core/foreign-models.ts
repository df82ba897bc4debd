// Model files that are not ONNX, recognised by their bytes so `modelgate package` can say what a file is and
// how to convert it, instead of "not an ONNX model: index out of range". Nothing here loads such a file: a
// pickle runs arbitrary code when it is loaded, so its opcodes are read as bytes only, never executed.

/** The converter versions the commands below were written for (docs/bundle.md shows them end to end). */
export const CONVERTERS = {
  skl2onnx: '1.19.1',
  tf2onnx: '1.16.1',
  /** The ONNX opset the commands ask for: within what both converters and onnxruntime-node support. */
  opset: 17,
} as const;

/** A model file modelgate will not load, what it is, and the command that converts it to ONNX. */
export class ForeignModelError extends Error {
  override readonly name = 'ForeignModelError';
  constructor(
    /** What the file is, e.g. `a Python pickle (protocol 4) of sklearn.ensemble._forest.RandomForestClassifier`. */
    readonly format: string,
    /** The conversion, with the converter's version. */
    readonly conversion: string,
    why = 'modelgate serves ONNX models only',
  ) {
    super(`${format}: ${why}`);
  }
}

/** What the first bytes of a compressed file say it was compressed with (joblib's `compress=` codecs). */
export type Compression = 'zlib' | 'gzip' | 'bz2' | 'xz' | 'lzma' | 'lz4';

export type ForeignFormat =
  | { readonly kind: 'pickle'; readonly protocol: number; readonly global?: string }
  | { readonly kind: 'compressed'; readonly compression: Compression; readonly pickle?: Extract<ForeignFormat, { kind: 'pickle' }> }
  | { readonly kind: 'saved-model' };

/**
 * The first bytes of a compressed file, decompressed (a prefix is enough), or undefined when the codec is not at
 * hand or the bytes do not decompress: the file is then named by its compression alone.
 */
export type Decompress = (bytes: Uint8Array, compression: Compression) => Uint8Array | undefined;

const PROTO = 0x80;
/** Opcodes that follow PROTO at the start of a pickle of protocol 2 to 5 (pickletools' names). */
const FIRST_OPCODES = new Set([
  0x95, // FRAME
  0x63, // GLOBAL
  0x93, // STACK_GLOBAL
  0x8c, // SHORT_BINUNICODE
  0x58, // BINUNICODE
  0x7d, // EMPTY_DICT
  0x5d, // EMPTY_LIST
  0x28, // MARK
  0x29, // EMPTY_TUPLE
  0x4e, // NONE
  0x4b, // BININT1
  0x4a, // BININT
  0x88, // NEWTRUE
  0x89, // NEWFALSE
]);

/**
 * What a model file is when it is not ONNX and its bytes say so: a pickle of protocol 2 to 5 (pickle.dump,
 * joblib.dump, cloudpickle — the `\x80 <protocol>` header), or a file compressed the ways joblib compresses
 * (`joblib.dump(..., compress=...)`: zlib by default, gzip, bz2, xz, lzma, lz4). Undefined otherwise: the
 * caller then reads it as ONNX. Protocols 0 and 1 (text) have no header to recognise.
 */
export function recognizeForeignModel(bytes: Uint8Array, decompressStart?: Decompress): ForeignFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === PROTO && (bytes[1] as number) >= 2 && (bytes[1] as number) <= 5 && FIRST_OPCODES.has(bytes[2] as number)) {
    const global = firstGlobal(bytes);
    return { kind: 'pickle', protocol: bytes[1] as number, ...(global ? { global } : {}) };
  }
  const compression = compressionOf(bytes);
  if (!compression) return undefined;
  const inner = decompressStart?.(bytes, compression);
  const pickle = inner ? recognizeForeignModel(inner) : undefined;
  return { kind: 'compressed', compression, ...(pickle?.kind === 'pickle' ? { pickle } : {}) };
}

function compressionOf(bytes: Uint8Array): Compression | undefined {
  const starts = (...prefix: number[]) => prefix.every((b, i) => bytes[i] === b);
  // zlib: CMF 0x78 (deflate, 32 KiB window) and a FLG that makes CMF*256+FLG a multiple of 31 (RFC 1950).
  if (bytes.length >= 2 && bytes[0] === 0x78 && ((bytes[0] << 8) | (bytes[1] as number)) % 31 === 0) return 'zlib';
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x42, 0x5a, 0x68)) return 'bz2';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x04, 0x22, 0x4d, 0x18)) return 'lz4';
  // The legacy .lzma header: properties byte 0x5d and a 64 KiB+ dictionary size (what Python's lzma writes).
  if (starts(0x5d, 0x00, 0x00)) return 'lzma';
  return undefined;
}

/**
 * The class of the pickled object — the first GLOBAL (`c module\nname\n`) or STACK_GLOBAL (after two strings)
 * — read by walking the opcodes that open a pickle; undefined at the first opcode this walk does not know.
 */
function firstGlobal(bytes: Uint8Array): string | undefined {
  const text = new TextDecoder();
  const strings: string[] = [];
  let at = 2;
  for (let step = 0; step < 64 && at < bytes.length; step++) {
    const opcode = bytes[at++] as number;
    switch (opcode) {
      case 0x95: // FRAME: 8-byte length
        at += 8;
        break;
      case 0x94: // MEMOIZE
      case 0x28: // MARK
        break;
      case 0x71: // BINPUT: 1-byte memo index
        at += 1;
        break;
      case 0x8c: {
        // SHORT_BINUNICODE: 1-byte length
        const length = bytes[at] as number;
        strings.push(text.decode(bytes.subarray(at + 1, at + 1 + length)));
        at += 1 + length;
        break;
      }
      case 0x58: {
        // BINUNICODE: 4-byte little-endian length
        if (at + 4 > bytes.length) return undefined;
        const length = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
        strings.push(text.decode(bytes.subarray(at + 4, at + 4 + length)));
        at += 4 + length;
        break;
      }
      case 0x93: // STACK_GLOBAL: module and name are the last two strings
        return strings.length >= 2 ? `${strings[strings.length - 2]}.${strings[strings.length - 1]}` : undefined;
      case 0x63: {
        // GLOBAL: "module\nname\n"
        const end = bytes.indexOf(0x0a, bytes.indexOf(0x0a, at) + 1);
        if (end === -1) return undefined;
        const [module, name] = text.decode(bytes.subarray(at, end)).split('\n');
        return `${module}.${name}`;
      }
      default:
        return undefined;
    }
  }
  return undefined;
}

const PICKLE_REFUSAL = 'modelgate serves ONNX models only, and never loads a pickle (loading one runs the code it holds)';

/** A file's description and its conversion, as the error `package` exits 2 with. */
export function foreignModelError(format: ForeignFormat, file: string): ForeignModelError {
  switch (format.kind) {
    case 'pickle': {
      const what = `${file} is a Python pickle (protocol ${format.protocol})${format.global ? ` of ${format.global}` : ''}`;
      return new ForeignModelError(what, sklearnConversion(file), PICKLE_REFUSAL);
    }
    case 'compressed':
      return new ForeignModelError(
        format.pickle
          ? `${file} is a ${format.compression}-compressed Python pickle (protocol ${format.pickle.protocol})${format.pickle.global ? ` of ${format.pickle.global}` : ''}, as joblib.dump(..., compress=...) writes`
          : `${file} is ${format.compression}-compressed, as joblib.dump(..., compress=...) writes a pickle`,
        sklearnConversion(file),
        PICKLE_REFUSAL,
      );
    case 'saved-model':
      return new ForeignModelError(`${file} is a TensorFlow SavedModel`, tensorflowConversion(file));
  }
}

function sklearnConversion(file: string): string {
  return (
    `convert it where it was trained, with the Python that can load it (pip install skl2onnx==${CONVERTERS.skl2onnx}):\n` +
    `  python -c "import joblib, pandas as pd; from skl2onnx import to_onnx; model = joblib.load('${file}'); ` +
    `X = pd.read_csv('train.csv').drop(columns=['<target>']); ` +
    `open('model.onnx', 'wb').write(to_onnx(model, X[:1], target_opset=${CONVERTERS.opset}).SerializeToString())"\n` +
    '  then: modelgate package --onnx model.onnx ... (docs/bundle.md, "From a pickle")'
  );
}

function tensorflowConversion(folder: string): string {
  return (
    `convert it with tf2onnx (pip install tf2onnx==${CONVERTERS.tf2onnx}):\n` +
    `  python -m tf2onnx.convert --saved-model ${folder} --output model.onnx --opset ${CONVERTERS.opset}\n` +
    '  then: modelgate package --onnx model.onnx ... (docs/bundle.md, "From a TensorFlow SavedModel")'
  );
}

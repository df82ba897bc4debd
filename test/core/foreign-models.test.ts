import { readFileSync } from 'node:fs';
import { deflateSync, gzipSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CONVERTERS, foreignModelError, recognizeForeignModel } from '../../lambdas/core/foreign-models';

// pickle.dumps(model, protocol=p) of a two-attribute object whose class is sklearn.linear_model._logistic.
// LogisticRegression, written by CPython 3.11: protocols 2 and 3 name the class with GLOBAL, 4 and 5 with
// FRAME + SHORT_BINUNICODE strings + STACK_GLOBAL.
const PROTOCOL_2 =
  'gAJjc2tsZWFybi5saW5lYXJfbW9kZWwuX2xvZ2lzdGljCkxvZ2lzdGljUmVncmVzc2lvbgpxACmBcQF9cQIoWAEAAABDcQNHP/AAAAAAAABYBQAAAGNvZWZfcQRdcQVdcQYoRz/gAAAAAAAAR7/QAAAAAAAAZWFYCAAAAGNsYXNzZXNfcQddcQgoWAIAAABOb3EJWAMAAABZZXNxCmV1Yi4=';
const PROTOCOL_4 =
  'gASViQAAAAAAAACMHnNrbGVhcm4ubGluZWFyX21vZGVsLl9sb2dpc3RpY5SMEkxvZ2lzdGljUmVncmVzc2lvbpSTlCmBlH2UKIwBQ5RHP/AAAAAAAACMBWNvZWZflF2UXZQoRz/gAAAAAAAAR7/QAAAAAAAAZWGMCGNsYXNzZXNflF2UKIwCTm+UjANZZXOUZXViLg==';
const bytesOf = (base64: string) => new Uint8Array(Buffer.from(base64, 'base64'));
/** A protocol-N pickle: the same stream as protocol 2 or 4 with another protocol byte. */
const withProtocol = (base64: string, protocol: number) => Uint8Array.from(bytesOf(base64), (b, i) => (i === 1 ? protocol : b));

/** What the CLI hands in: zlib and gzip streams inflated as far as the bytes go (a prefix is enough). */
const decompressStart = (bytes: Uint8Array, compression: string) => (compression === 'zlib' ? new Uint8Array(inflateSync(bytes)) : undefined);

describe('recognizeForeignModel', () => {
  it.each([
    [2, PROTOCOL_2],
    [3, withProtocol(PROTOCOL_2, 3)],
    [4, PROTOCOL_4],
    [5, withProtocol(PROTOCOL_4, 5)],
  ])('reads a protocol %i pickle and the class it holds, without loading it', (protocol, pickle) => {
    const bytes = typeof pickle === 'string' ? bytesOf(pickle) : pickle;
    expect(recognizeForeignModel(bytes)).toEqual({ kind: 'pickle', protocol, global: 'sklearn.linear_model._logistic.LogisticRegression' });
  });

  it('names a pickle whose class it cannot read by its protocol alone, truncated ones too', () => {
    expect(recognizeForeignModel(Uint8Array.of(0x80, 0x04, 0x95, 0x01))).toEqual({ kind: 'pickle', protocol: 4 });
    expect(recognizeForeignModel(bytesOf(PROTOCOL_2).subarray(0, 40))).toEqual({ kind: 'pickle', protocol: 2 });
    expect(recognizeForeignModel(Uint8Array.of(0x80, 0x03, 0x58, 0x05, 0x00))).toEqual({ kind: 'pickle', protocol: 3 });
  });

  it("recognises joblib's compressed files, and the pickle inside a zlib stream when it can inflate it", () => {
    const zlib = new Uint8Array(deflateSync(bytesOf(PROTOCOL_4), { level: 3 }));
    expect(recognizeForeignModel(zlib, decompressStart)).toEqual({
      kind: 'compressed',
      compression: 'zlib',
      pickle: { kind: 'pickle', protocol: 4, global: 'sklearn.linear_model._logistic.LogisticRegression' },
    });
    expect(recognizeForeignModel(zlib)).toEqual({ kind: 'compressed', compression: 'zlib' });
    expect(recognizeForeignModel(new Uint8Array(gzipSync(bytesOf(PROTOCOL_2))))).toEqual({ kind: 'compressed', compression: 'gzip' });
    expect(recognizeForeignModel(Uint8Array.from(Buffer.from('BZh91AY&SY')))).toEqual({ kind: 'compressed', compression: 'bz2' });
    expect(recognizeForeignModel(Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00))).toEqual({ kind: 'compressed', compression: 'xz' });
    expect(recognizeForeignModel(Uint8Array.of(0x04, 0x22, 0x4d, 0x18, 0x64))).toEqual({ kind: 'compressed', compression: 'lz4' });
  });

  it('leaves ONNX models, protocol 0/1 look-alikes and empty files to the ONNX reader', () => {
    for (const name of ['logreg_iris.onnx', 'pipeline_titanic.onnx', 'churn_model.onnx']) {
      expect(recognizeForeignModel(new Uint8Array(readFileSync(new URL(`../fixtures/models/${name}`, import.meta.url))))).toBeUndefined();
    }
    expect(recognizeForeignModel(Uint8Array.of(0x80, 0x01, 0x63))).toBeUndefined();
    expect(recognizeForeignModel(Uint8Array.of(0x80, 0x06, 0x95))).toBeUndefined();
    expect(recognizeForeignModel(new Uint8Array())).toBeUndefined();
  });
});

describe('foreignModelError', () => {
  it('names a pickle and gives the skl2onnx conversion with its version', () => {
    const error = foreignModelError({ kind: 'pickle', protocol: 4, global: 'sklearn.ensemble._forest.RandomForestClassifier' }, 'model.pkl');
    expect(error.message).toBe(
      'model.pkl is a Python pickle (protocol 4) of sklearn.ensemble._forest.RandomForestClassifier: modelgate serves ONNX models only, and never loads a pickle (loading one runs the code it holds)',
    );
    expect(error.conversion).toContain(`pip install skl2onnx==${CONVERTERS.skl2onnx}`);
    expect(error.conversion).toContain("joblib.load('model.pkl')");
    expect(error.conversion).toContain(`target_opset=${CONVERTERS.opset}`);
  });

  it('names a SavedModel and gives the tf2onnx command with its version', () => {
    const error = foreignModelError({ kind: 'saved-model' }, 'export/1');
    expect(error.format).toBe('export/1 is a TensorFlow SavedModel');
    expect(error.conversion).toContain(`pip install tf2onnx==${CONVERTERS.tf2onnx}`);
    expect(error.conversion).toContain(`python -m tf2onnx.convert --saved-model export/1 --output model.onnx --opset ${CONVERTERS.opset}`);
  });
});

import { describe, expect, it } from 'vitest';
import { PackedBundleError, packBundle, unpackBundle } from '../../lambdas/core/packed-bundle';

const manifest = JSON.stringify({ name: 'churn', version: '1', description: 'ünïcode in the manifest' });
const model = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);

describe('packed bundle', () => {
  it('gives back the manifest text and the model bytes it was made of', () => {
    const { manifestText, modelBytes } = unpackBundle(packBundle(manifest, model));
    expect(manifestText).toBe(manifest);
    expect(Array.from(modelBytes)).toEqual(Array.from(model));
  });

  it('keeps an empty model and a model that looks like a header', () => {
    expect(unpackBundle(packBundle(manifest, new Uint8Array())).modelBytes).toHaveLength(0);
    const tricky = new TextEncoder().encode('modelgate-packed-bundle/1\n5\n');
    expect(Array.from(unpackBundle(packBundle(manifest, tricky)).modelBytes)).toEqual(Array.from(tricky));
  });

  it.each([
    ['an ONNX file', new Uint8Array([0x08, 0x07, 0x12, 0x04]), /not a packed bundle/],
    ['an empty object', new Uint8Array(), /not a packed bundle/],
    ['no length line', new TextEncoder().encode('modelgate-packed-bundle/1\n{"a":1}'), /length line/],
    ['a length that is not a number', new TextEncoder().encode('modelgate-packed-bundle/1\nabc\n{}'), /length line/],
    ['a manifest cut short', packBundle(manifest, model).subarray(0, 60), /cut short: the manifest is \d+ bytes, only \d+ follow/],
  ])('rejects %s with the reason', (_, bytes, reason) => {
    expect(() => unpackBundle(bytes)).toThrow(PackedBundleError);
    expect(() => unpackBundle(bytes)).toThrow(reason);
  });
});

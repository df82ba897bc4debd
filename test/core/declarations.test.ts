// A model declaration's packaging: validated with every other problem, each naming its path; mapped to Lambda's
// package type; and never switched on an existing stack.
import { describe, expect, it } from 'vitest';
import { declarationProblems, parseDeclarations } from '../../lambdas/core/pipeline/declarations';
import { packageType, packageTypeSwitch } from '../../lambdas/core/pipeline/provisioning';

const WHERE = 'modelgate.config.json: stages.dev.models.fraud';

describe('packaging in a model declaration', () => {
  it("accepts 'zip' and 'image', and no packaging at all", () => {
    for (const declaration of [{ packaging: 'zip' }, { packaging: 'image' }, {}]) expect(declarationProblems(WHERE, 'fraud', declaration)).toEqual([]);
  });

  it('refuses any other value, naming the path, the allowed values and the value given', () => {
    expect(declarationProblems(WHERE, 'fraud', { packaging: 'docker' })).toEqual([`${WHERE}.packaging must be one of zip, image, got: "docker"`]);
    expect(declarationProblems(WHERE, 'fraud', { packaging: 'Image' })).toEqual([`${WHERE}.packaging must be one of zip, image, got: "Image"`]);
    expect(declarationProblems(WHERE, 'fraud', { packaging: true })).toEqual([`${WHERE}.packaging must be one of zip, image, got: true`]);
  });

  it("reports a bad packaging together with the declaration's other problems", () => {
    expect(declarationProblems(WHERE, 'fraud', { packaging: 'oci', memorySize: 64, packageType: 'Image' })).toEqual([
      `${WHERE}.memorySize must be an integer between 128 and 10240, got: 64`,
      `${WHERE}.packaging must be one of zip, image, got: "oci"`,
      `${WHERE}.packageType is not a model setting (known: memorySize, reservedConcurrency, alarms, rollout, packaging, bundle)`,
    ]);
  });

  it('is read back from the published declarations, and a bad one makes them a deployment error', () => {
    const declarations = { deployment: 'modelgate-dev', allowUndeclaredModels: true, models: { fraud: { packaging: 'image' } } };
    expect(parseDeclarations(JSON.stringify(declarations)).models.fraud?.packaging).toBe('image');
    expect(() => parseDeclarations(JSON.stringify({ ...declarations, models: { fraud: { packaging: 'tar' } } }))).toThrow(
      'config/models.json: models.fraud.packaging must be one of zip, image, got: "tar"',
    );
  });
});

describe("a model function's package type", () => {
  it('is Image for a model declared with packaging: image, Zip for one declared otherwise and for an undeclared model', () => {
    expect(packageType({ packaging: 'image' })).toBe('Image');
    expect(packageType({ packaging: 'zip' })).toBe('Zip');
    expect(packageType({ memorySize: 2048 })).toBe('Zip');
    expect(packageType(undefined)).toBe('Zip');
  });

  it('cannot change on an existing stack: the refusal names the model, both types and the way out', () => {
    const zip = { status: 'UPDATE_COMPLETE', parameters: { PackageType: 'Zip' } };
    const problem = packageTypeSwitch('fraud', zip, 'Image');
    expect(problem).toContain('model "fraud" is served by a Zip function and its declaration now asks for packaging: image');
    expect(problem).toContain('Declare packaging: zip again, or retire the model (modelgate retire fraud), deploy, and push it again');
    expect(packageTypeSwitch('fraud', { status: 'CREATE_COMPLETE', parameters: { PackageType: 'Image' } }, 'Zip')).toContain('packaging: image again');
  });

  it('may stay what it is; a stack created before the parameter existed is Zip', () => {
    expect(packageTypeSwitch('fraud', { status: 'UPDATE_COMPLETE', parameters: { PackageType: 'Image' } }, 'Image')).toBeUndefined();
    expect(packageTypeSwitch('fraud', { status: 'UPDATE_COMPLETE', parameters: { MemorySize: '1024' } }, 'Zip')).toBeUndefined();
    expect(packageTypeSwitch('fraud', { status: 'UPDATE_COMPLETE', parameters: { MemorySize: '1024' } }, 'Image')).toContain('served by a Zip function');
  });
});

// The manifest's JSON Schema and the ajv options it is checked with: one definition for the validator that
// compiles it when it loads (manifest-schema-validator.ts) and for the standalone code that bundles carry
// instead (lib/functions/bundling.ts).
import type { AnySchemaObject, Options } from 'ajv';
import schema from './manifest.v1.schema.json';

/** Typed as a schema, not as the JSON file: the package's declarations then need no JSON module. */
export const manifestSchema: AnySchemaObject = schema;

export const MANIFEST_SCHEMA_OPTIONS: Readonly<Options> = { allErrors: true, discriminator: true, strict: true, allowUnionTypes: true };

/**
 * How manifest.ts imports its validator (package.json `imports`): the module below when the sources run, ajv's
 * standalone code generated at build in a bundle.
 */
export const MANIFEST_SCHEMA_VALIDATOR_MODULE = '#manifest-schema-validator';

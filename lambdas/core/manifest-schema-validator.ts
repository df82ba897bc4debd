// The manifest schema compiled by ajv when this module loads: what the sources (tests, the local runtime, tsx)
// run. Bundled functions hold ajv's standalone code for the same schema and options instead, generated at build
// (lib/functions/bundling.ts), because compiling the schema is one of the largest costs of a cold start.
import { Ajv, type ValidateFunction } from 'ajv';
import { MANIFEST_SCHEMA_OPTIONS, manifestSchema } from './manifest-schema';

export const validateManifestSchema: ValidateFunction = new Ajv(MANIFEST_SCHEMA_OPTIONS).compile(manifestSchema);

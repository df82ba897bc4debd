import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/**
 * JSON-like data to DynamoDB attribute values, for the prediction log's hot path. util-dynamodb's
 * `marshall` handles every JavaScript type (sets, binary, class instances) and measured 12 us per
 * prediction record here — more than the rest of the request; plain records need only this.
 * Undefined fields are left out; a non-finite number (which DynamoDB cannot store) throws.
 */
export function toAttributeMap(record: object): Record<string, AttributeValue> {
  const map: Record<string, AttributeValue> = {};
  for (const key in record) {
    const value = (record as Record<string, unknown>)[key];
    if (value !== undefined) map[key] = toAttributeValue(value, key);
  }
  return map;
}

function toAttributeValue(value: unknown, path: string): AttributeValue {
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path}: DynamoDB cannot store ${value}`);
      return { N: String(value) };
    case 'boolean':
      return { BOOL: value };
    case 'object':
      if (value === null) return { NULL: true };
      if (Array.isArray(value)) return { L: value.map((item, i) => toAttributeValue(item ?? null, `${path}[${i}]`)) };
      return { M: toAttributeMap(value) };
    default:
      throw new TypeError(`${path}: cannot store a ${typeof value} in DynamoDB`);
  }
}

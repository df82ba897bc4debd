// The part of CloudWatch metric math that alarms built with CDK's MathExpression use: + - * /, unary minus,
// parentheses, numbers, query ids, and FILL(series, value) / ABS(series). Series are aligned by timestamp; an
// operation between two series has a value only where both do, as in CloudWatch. Anything else is refused
// with a message naming it, so an alarm the local runtime cannot evaluate says why instead of guessing.

/** Values by period start (epoch ms). */
export type TimeSeries = ReadonlyMap<number, number>;
type Value = TimeSeries | number;

export class MetricMathError extends Error {
  override readonly name = 'MetricMathError';
}

type Token = { kind: 'number'; value: number } | { kind: 'id'; value: string } | { kind: 'op'; value: string };

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /\s*(?:(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|([-+*/(),]))/y;
  let index = 0;
  while (index < expression.length) {
    if (/^\s*$/.test(expression.slice(index))) break;
    pattern.lastIndex = index;
    const match = pattern.exec(expression);
    if (!match) throw new MetricMathError(`cannot read metric math "${expression}" at "${expression.slice(index)}"`);
    if (match[1] !== undefined) tokens.push({ kind: 'number', value: Number(match[1]) });
    else if (match[2] !== undefined) tokens.push({ kind: 'id', value: match[2] });
    else tokens.push({ kind: 'op', value: match[3] as string });
    index = pattern.lastIndex;
  }
  return tokens;
}

/**
 * Evaluates `expression` over `series` (by query id). `timestamps` are every period of the queried range:
 * FILL uses them to give missing periods a value.
 */
export function evaluateMetricMath(expression: string, series: ReadonlyMap<string, TimeSeries>, timestamps: readonly number[]): TimeSeries {
  const tokens = tokenize(expression);
  let position = 0;
  const peek = () => tokens[position];
  const expect = (op: string) => {
    const token = tokens[position++];
    if (token?.kind !== 'op' || token.value !== op) throw new MetricMathError(`metric math "${expression}": expected "${op}"`);
  };

  const sum = (): Value => {
    let left = product();
    for (let t = peek(); t?.kind === 'op' && (t.value === '+' || t.value === '-'); t = peek()) {
      position++;
      left = combine(left, product(), t.value);
    }
    return left;
  };
  const product = (): Value => {
    let left = unary();
    for (let t = peek(); t?.kind === 'op' && (t.value === '*' || t.value === '/'); t = peek()) {
      position++;
      left = combine(left, unary(), t.value);
    }
    return left;
  };
  const unary = (): Value => {
    const t = peek();
    if (t?.kind === 'op' && t.value === '-') {
      position++;
      return combine(-1, unary(), '*');
    }
    return primary();
  };
  const primary = (): Value => {
    const t = tokens[position++];
    if (!t) throw new MetricMathError(`metric math "${expression}" ends too early`);
    if (t.kind === 'number') return t.value;
    if (t.kind === 'op' && t.value === '(') {
      const inner = sum();
      expect(')');
      return inner;
    }
    if (t.kind === 'id') {
      const next = peek();
      if (next?.kind === 'op' && next.value === '(') {
        position++;
        const args: Value[] = [sum()];
        while (peek()?.kind === 'op' && peek()?.value === ',') {
          position++;
          args.push(sum());
        }
        expect(')');
        return call(t.value.toUpperCase(), args);
      }
      const found = series.get(t.value);
      if (!found) throw new MetricMathError(`metric math "${expression}": no query with id "${t.value}"`);
      return found;
    }
    throw new MetricMathError(`metric math "${expression}": unexpected "${t.value}"`);
  };
  const call = (name: string, args: Value[]): Value => {
    const [first, second] = args;
    if (name === 'FILL' && args.length === 2 && first instanceof Map && typeof second === 'number') {
      return new Map(timestamps.map((t) => [t, first.get(t) ?? second]));
    }
    if (name === 'ABS' && args.length === 1 && first !== undefined) return combine(first, 0, 'abs');
    throw new MetricMathError(
      `metric math "${expression}": ${name}(${args.length} argument${args.length === 1 ? '' : 's'}) is not supported locally (FILL(series, number) and ABS(series) are)`,
    );
  };

  const result = sum();
  if (position < tokens.length) throw new MetricMathError(`metric math "${expression}": unexpected "${String(tokens[position]?.value)}"`);
  return typeof result === 'number' ? new Map(timestamps.map((t) => [t, result])) : result;
}

function apply(a: number, b: number, op: string): number | undefined {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      // CloudWatch drops a datapoint whose division has no finite answer.
      return b === 0 ? undefined : a / b;
    default:
      return Math.abs(a);
  }
}

function combine(left: Value, right: Value, op: string): Value {
  if (typeof left === 'number' && typeof right === 'number') return apply(left, right, op) ?? Number.NaN;
  const out = new Map<number, number>();
  const keys = left instanceof Map ? [...left.keys()] : [...(right as TimeSeries).keys()];
  for (const t of keys) {
    const a = typeof left === 'number' ? left : left.get(t);
    const b = typeof right === 'number' ? right : right.get(t);
    if (a === undefined || b === undefined) continue;
    const value = apply(a, b, op);
    if (value !== undefined && Number.isFinite(value)) out.set(t, value);
  }
  return out;
}

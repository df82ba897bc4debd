// Vitest global setup: the CLI tests run the built CLI (dist/cli/, as users do), so build it when the sources
// changed since the last build — a fresh clone's `npm test`, or an edit under cli/ or lambdas/.
import { buildCli, cliBuildIsCurrent } from '../../cli/build';

export default async function setup(): Promise<void> {
  if (!cliBuildIsCurrent()) await buildCli();
}

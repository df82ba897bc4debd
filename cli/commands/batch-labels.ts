// `modelgate batch labels <output> --labels <file> --target <column>`: ground truth for a batch job's rows, from a
// file. The labels are joined to the job's output parts by id and the job's realized quality computed by the
// monitor's quality core against the version's validation baseline (lambdas/core/batch/labels.ts). The output is
// a local folder (as `modelgate batch --output <folder>` writes it) or its S3 prefix; the manifest of the version
// that scored it comes from the target's model bucket.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ManifestStore } from '../../lambdas/adapters/manifest-store';
import { BATCH_OUTPUT, formatOfFile, type BatchFormat } from '../../lambdas/contracts/batch-job';
import { BatchLabelsError, BatchLabelsJoin, readLabels, readPart, rejectedIds, type BatchLabelsReport } from '../../lambdas/core/batch/labels';
import type { BatchSummary } from '../../lambdas/core/batch/summary';
import type { QualityMetricName } from '../../lambdas/core/monitoring/quality';
import { columns } from '../columns';
import { QUALITY_METRIC_LABELS } from '../metric-labels';
import type { CommandInput } from '../command';
import type { batchOptions } from '../specs/batch';
import { requireOutput, resolveTarget, type Target } from '../target';
import { UsageError } from '../usage-error';
import { parseS3 } from './batch';

export const BATCH_LABELS_EXAMPLE = 'modelgate batch labels out/ --labels churned.csv --target Churn';

/** A job's output: a local folder or an S3 prefix, read the same way. */
interface JobOutput {
  readonly where: string;
  /** Names of the files under `folder` ('parts/' or 'rejected/'), in name order (input order). */
  list(folder: string): Promise<string[]>;
  /** The text of a file, undefined when there is none. */
  read(name: string): Promise<string | undefined>;
}

export async function runBatchLabels({ values, positionals }: Pick<CommandInput<typeof batchOptions>, 'values' | 'positionals'>): Promise<number> {
  const [location, ...extra] = positionals;
  if (location === undefined || extra.length > 0) {
    throw new UsageError(
      `batch labels takes one job output (a folder or s3://<bucket>/batch/<prefix>/)${extra.length > 0 ? `, got: ${positionals.join(' ')}` : ''}`,
      `e.g. \`${BATCH_LABELS_EXAMPLE}\``,
    );
  }
  for (const flag of ['labels', 'target'] as const) {
    if (values[flag] === undefined) throw new UsageError(`--${flag} is required`, `e.g. \`${BATCH_LABELS_EXAMPLE}\``);
  }
  const labelsFile = values.labels as string;
  const labelsFormat = formatOfFile(labelsFile);
  if (!labelsFormat) throw new UsageError(`--labels ${labelsFile}: cannot tell its format from its extension`, 'give a .csv (with a header) or a .jsonl file');
  const labelsText = await readFile(labelsFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`--labels ${labelsFile}: cannot read it: ${error.code === 'ENOENT' ? 'no such file' : error.message}`, 'check the path');
  });

  const target = await resolveTarget(values);
  const output = location.startsWith('s3://') ? s3Output(target, location) : folderOutput(location);
  const summaryText = await output.read(BATCH_OUTPUT.summary);
  if (summaryText === undefined) {
    throw new UsageError(
      `${output.where}: no ${BATCH_OUTPUT.summary}: not the output of a finished batch job`,
      'give the --output of a job that succeeded (`modelgate batch status <job>`)',
    );
  }
  const summary = JSON.parse(summaryText) as BatchSummary;
  const format = summary.input.format as BatchFormat;
  const found = await new ManifestStore(target.s3, requireOutput(target, 'ModelBucketName'), 0).get(summary.model, summary.version);
  if ('reason' in found)
    throw new UsageError(
      `the manifest of ${summary.model} v${summary.version}, which scored ${output.where}, cannot be read: ${found.reason}`,
      'target the stack that ran the job',
    );
  const manifest = found;

  try {
    const parts = await output.list(BATCH_OUTPUT.parts);
    if (parts.length === 0)
      throw new UsageError(`${output.where}: no scored rows (no ${BATCH_OUTPUT.parts} files)`, 'a job whose every row was rejected has no predictions to label');
    // A summary written before it named the output's id column has no `output.idColumn`: the first column is the id.
    const read = async (name: string) => readPart(manifest, (await output.read(name)) as string, format, `${output.where}${name}`, summary.output?.idColumn);
    const first = await read(parts[0] as string);
    const idColumn = values['id-column'] ?? first.idColumn;
    const labels = readLabels(manifest, labelsText, labelsFormat, { idColumn, target: values.target as string }, labelsFile);
    const join = new BatchLabelsJoin(manifest, labels);
    join.addPart(first.rows);
    for (const name of parts.slice(1)) join.addPart((await read(name)).rows);
    const rejected = new Set<string>();
    for (const name of await output.list(BATCH_OUTPUT.rejected)) {
      for (const id of rejectedIds((await output.read(name)) as string, format, first.idColumn, `${output.where}${name}`)) rejected.add(id);
    }
    const report = join.report(rejected);
    if (report.labelled === 0) {
      throw new UsageError(
        `no label of ${labelsFile} joins a row of ${output.where}: its ids (column "${idColumn}", e.g. ${report.labelsWithoutPrediction.examples.map((id) => JSON.stringify(id)).join(', ')}) match none of the output's (column "${first.idColumn}", e.g. ${first.rows
          .slice(0, 3)
          .map((row) => JSON.stringify(row.id))
          .join(', ')})`,
        "name the labels' id column with --id-column",
      );
    }
    const result = { model: summary.model, version: summary.version, output: output.where, labelsFile, idColumn, outputIdColumn: first.idColumn, target: values.target, ...report };
    console.log(values.json ? JSON.stringify(result, null, 2) : text(result));
    return 0;
  } catch (error) {
    if (error instanceof BatchLabelsError) throw new UsageError(error.message, 'fix the labels file, or name its columns with --id-column and --target');
    throw error;
  }
}

function folderOutput(folder: string): JobOutput {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new UsageError(`${folder}: no such folder`, 'give the folder `modelgate batch --output` wrote, or the s3:// prefix of the job output');
  }
  const where = folder.endsWith('/') ? folder : `${folder}/`;
  return {
    where,
    list: async (sub) =>
      existsSync(join(folder, sub))
        ? readdirSync(join(folder, sub))
            .sort()
            .map((name) => `${sub}${name}`)
        : [],
    read: async (name) => (existsSync(join(folder, name)) ? readFile(join(folder, name), 'utf8') : undefined),
  };
}

function s3Output(target: Target, uri: string): JobOutput {
  const { bucket, key } = parseS3(uri, 'the job output');
  const prefix = key.endsWith('/') ? key : `${key}/`;
  return {
    where: `s3://${bucket}/${prefix}`,
    async list(sub) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await target.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}${sub}`, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((c) => (c.Key as string).slice(prefix.length)));
        token = page.NextContinuationToken;
      } while (token);
      return keys.sort();
    },
    async read(name) {
      try {
        const object = await target.s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${name}` }));
        return await object.Body?.transformToString();
      } catch (error) {
        if ((error as Error).name === 'NoSuchKey') return undefined;
        throw error;
      }
    },
  };
}

function text(result: BatchLabelsReport & { model: string; version: string; output: string; labelsFile: string; idColumn: string; target: unknown }): string {
  const { labelsWithoutPrediction: missing, duplicateLabels: duplicates } = result;
  const lines = [
    `${result.model} v${result.version}: ${result.output} joined with ${result.labelsFile} (id "${result.idColumn}", label "${String(result.target)}")`,
    `  ${result.labelled} of ${result.predictions} predictions labelled; ${result.predictionsWithoutLabel} without a label`,
    `  ${missing.count} of ${result.labels} labels without a prediction${missing.count > 0 ? ` (${missing.rejectedRows} of rejected rows; e.g. ${missing.examples.join(', ')})` : ''}`,
  ];
  if (duplicates.same + duplicates.conflicting > 0) {
    lines.push(`  ${duplicates.same + duplicates.conflicting} ids labelled more than once (${duplicates.conflicting} with another label): the first label counts`);
  }
  if (result.labelsOnSeveralPredictions > 0) lines.push(`  ${result.labelsOnSeveralPredictions} labels joined more than one prediction (an id the input held twice): each counts`);
  const rows = (Object.keys(QUALITY_METRIC_LABELS) as QualityMetricName[])
    .filter((name) => result.quality[name] !== undefined)
    .map((name) => {
      const sample = result.quality.samples?.[name];
      const baseline = result.baseline[name];
      const degradation = result.degradation[name];
      return [
        QUALITY_METRIC_LABELS[name],
        (result.quality[name] as number).toFixed(4),
        baseline === undefined ? '-' : baseline.toFixed(4),
        degradation === undefined ? '-' : `${degradation > 0 ? '+' : ''}${degradation.toFixed(4)}`,
        sample && !sample.enough ? `not enough data: rests on ${sample.size}, a verdict needs ${sample.minimum}` : '',
      ];
    });
  return [...lines, '', columns([['metric', 'realized', 'baseline', 'worse by', 'notes'], ...rows])].join('\n');
}

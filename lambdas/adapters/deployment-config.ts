// What the base stack publishes to the model bucket for the pipeline: the model declarations
// (config/models.json) and the model stack's template (templates/model-stack.json). Read through the same
// store as bundles; cached briefly, since a deploy changes them rarely and every task reads them.
import type { S3Client } from '@aws-sdk/client-s3';
import { MODEL_STACK_TEMPLATE_KEY } from '../contracts/model-stack';
import { DECLARATIONS_KEY, parseDeclarations, type DeploymentDeclarations } from '../core/pipeline/declarations';
import { CandidateStore } from './candidate-store';

const CACHE_MS = 30_000;

export class DeploymentConfig {
  private readonly store: CandidateStore;
  private readonly cache = new Map<string, { at: number; text: string }>();

  constructor(
    s3: S3Client,
    bucket: string,
    private readonly now: () => number = Date.now,
  ) {
    this.store = new CandidateStore(s3, bucket);
  }

  async declarations(): Promise<DeploymentDeclarations> {
    return parseDeclarations(await this.text(DECLARATIONS_KEY));
  }

  async modelStackTemplate(): Promise<string> {
    return this.text(MODEL_STACK_TEMPLATE_KEY);
  }

  private async text(key: string): Promise<string> {
    const cached = this.cache.get(key);
    if (cached && this.now() - cached.at < CACHE_MS) return cached.text;
    const object = await this.store.require(key);
    const text = new TextDecoder().decode(object.bytes);
    this.cache.set(key, { at: this.now(), text });
    return text;
  }
}

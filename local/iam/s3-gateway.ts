// The IAM gateway in front of s3rver: each S3 REST request becomes the IAM actions S3 authorizes it as (method,
// path and sub-resource -> s3:GetObject, s3:PutObject, s3:ListBucket...), on the bucket or object ARN, plus
// the KMS permissions S3 needs on the caller's behalf when the bucket's default encryption is a KMS key
// (kms:Decrypt to read, kms:GenerateDataKey to write, with kms:ViaService set as S3 sets it). A denial is
// S3's 403 AccessDenied XML; a missing object the caller may not list is a 403 too, as S3 answers it.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { LocalService } from '../aws-services';
import { LOCAL_CREDENTIALS } from '../aws-clients';
import type { FaultKind, LocalFaults } from '../faults';
import { AccessDeniedError, type AccessRequest, type Authorizer, type Caller } from './authorizer';
import type { IamModel } from './iam-model';
import { accessKeyIdOf, sessionNameOf, type LocalIdentities } from './identities';
import { awsChunkedDecoder, ChunkedBodyError, decodedHeaders, isAwsChunked } from './aws-chunked';
import { passHeaders, startGateway, type Refusal } from './gateway';

type Check = Omit<AccessRequest, 'caller'>;

export interface S3GatewayOptions {
  readonly target: string;
  readonly host: string;
  readonly port?: number;
  readonly region: string;
  readonly accountId: string;
  readonly model: IamModel;
  readonly identities: LocalIdentities;
  readonly authorizer: Authorizer;
  /** Faults to inject into the calls IAM allows (local/faults.ts). */
  readonly faults?: LocalFaults;
}

/** Object-level sub-resources and the actions they are authorized as, by method. */
const OBJECT_SUBRESOURCES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  tagging: { GET: 'GetObjectTagging', PUT: 'PutObjectTagging', DELETE: 'DeleteObjectTagging' },
  acl: { GET: 'GetObjectAcl', PUT: 'PutObjectAcl' },
  retention: { GET: 'GetObjectRetention', PUT: 'PutObjectRetention' },
  'legal-hold': { GET: 'GetObjectLegalHold', PUT: 'PutObjectLegalHold' },
  attributes: { GET: 'GetObjectAttributes' },
};
/** Bucket-level sub-resources: `<Get|Put|Delete><name>` as S3 names the action. */
const BUCKET_SUBRESOURCES: Readonly<Record<string, string>> = {
  versioning: 'BucketVersioning',
  notification: 'BucketNotification',
  policy: 'BucketPolicy',
  tagging: 'BucketTagging',
  cors: 'BucketCORS',
  lifecycle: 'LifecycleConfiguration',
  encryption: 'EncryptionConfiguration',
  acl: 'BucketAcl',
  website: 'BucketWebsite',
  logging: 'BucketLogging',
  ownershipControls: 'BucketOwnershipControls',
  publicAccessBlock: 'BucketPublicAccessBlock',
};

/**
 * The IAM checks S3 makes for one request (S3 API -> actions: docs.aws.amazon.com/AmazonS3/latest/userguide/
 * using-with-s3-actions.html). `deleteKeys` are the keys of a DeleteObjects body.
 */
export function s3Checks(
  method: string,
  bucket: string,
  key: string | undefined,
  query: URLSearchParams,
  headers: IncomingMessage['headers'],
  deleteKeys: readonly string[] = [],
): Check[] {
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const objectArn = `${bucketArn}/${key ?? ''}`;
  const check = (action: string, resource: string, context?: Check['context']): Check => ({ action: `s3:${action}`, resource, ...(context ? { context } : {}) });
  const versioned = query.has('versionId');
  if (key === undefined) {
    if (method === 'POST' && query.has('delete')) return deleteKeys.map((k) => check('DeleteObject', `${bucketArn}/${k}`));
    const sub = Object.keys(BUCKET_SUBRESOURCES).find((name) => query.has(name));
    if (sub) return [check(`${method === 'GET' ? 'Get' : method === 'PUT' ? 'Put' : 'Delete'}${BUCKET_SUBRESOURCES[sub]}`, bucketArn)];
    if (method === 'GET' && query.has('versions')) return [check('ListBucketVersions', bucketArn)];
    if (method === 'GET' && query.has('uploads')) return [check('ListBucketMultipartUploads', bucketArn)];
    if (method === 'GET' && query.has('location')) return [check('GetBucketLocation', bucketArn)];
    if (method === 'GET' || method === 'HEAD') return [check('ListBucket', bucketArn, query.has('prefix') ? { 's3:prefix': query.get('prefix') as string } : undefined)];
    if (method === 'PUT') return [check('CreateBucket', bucketArn)];
    return [check('DeleteBucket', bucketArn)];
  }
  const sub = Object.keys(OBJECT_SUBRESOURCES).find((name) => query.has(name));
  const subAction = sub ? OBJECT_SUBRESOURCES[sub]?.[method] : undefined;
  if (subAction) return [check(versioned ? `${subAction}Version` : subAction, objectArn)];
  if (method === 'GET' && query.has('uploadId')) return [check('ListMultipartUploadParts', objectArn)];
  if (method === 'GET' || method === 'HEAD') return [check(versioned ? 'GetObjectVersion' : 'GetObject', objectArn)];
  if (method === 'DELETE') return [check(query.has('uploadId') ? 'AbortMultipartUpload' : versioned ? 'DeleteObjectVersion' : 'DeleteObject', objectArn)];
  const copySource = headers['x-amz-copy-source'];
  if (method === 'PUT' && typeof copySource === 'string') {
    const [source = '', sourceVersion] = decodeURIComponent(copySource.replace(/^\//, '')).split('?versionId=');
    return [check('PutObject', objectArn), check(sourceVersion ? 'GetObjectVersion' : 'GetObject', `arn:aws:s3:::${source}`)];
  }
  return [check('PutObject', objectArn)];
}

/**
 * The KMS checks S3 makes with the caller's identity when the objects are encrypted with a KMS key: reading an
 * object's content needs kms:Decrypt, writing one kms:GenerateDataKey (a multipart upload both), with
 * kms:ViaService and the encryption context S3 uses (the bucket ARN with S3 Bucket Keys, else the object's).
 * HEAD, listing and deleting touch no key.
 */
export function kmsChecks(
  method: string,
  bucket: string,
  key: string | undefined,
  query: URLSearchParams,
  headers: IncomingMessage['headers'],
  model: IamModel,
  region: string,
  accountId: string,
): Check[] {
  if (key === undefined || method === 'HEAD' || method === 'DELETE' || Object.keys(OBJECT_SUBRESOURCES).some((name) => query.has(name))) return [];
  const checks: Check[] = [];
  const viaS3 = (keyBucket: string, keyObject: string, action: string): Check | undefined => {
    const encryption = model.bucketKey(keyBucket);
    if (!encryption || encryption.keyArn === 'aws-managed') return undefined;
    return {
      action: `kms:${action}`,
      resource: encryption.keyArn,
      context: {
        'kms:ViaService': `s3.${region}.amazonaws.com`,
        'kms:CallerAccount': accountId,
        'kms:EncryptionContext:aws:s3:arn': encryption.bucketKey ? `arn:aws:s3:::${keyBucket}` : `arn:aws:s3:::${keyBucket}/${keyObject}`,
      },
    };
  };
  const add = (check: Check | undefined) => {
    if (check) checks.push(check);
  };
  if (method === 'GET') add(viaS3(bucket, key, 'Decrypt'));
  else if (method === 'POST' && query.has('uploads')) {
    add(viaS3(bucket, key, 'GenerateDataKey'));
    add(viaS3(bucket, key, 'Decrypt'));
  } else if (method === 'PUT' || method === 'POST') {
    const copySource = headers['x-amz-copy-source'];
    if (typeof copySource === 'string') {
      const [source = ''] = decodeURIComponent(copySource.replace(/^\//, '')).split('?versionId=');
      const slash = source.indexOf('/');
      add(viaS3(source.slice(0, slash), source.slice(slash + 1), 'Decrypt'));
    }
    if (!query.has('uploadId')) add(viaS3(bucket, key, 'GenerateDataKey'));
  }
  return checks;
}

export async function startS3Gateway(options: S3GatewayOptions): Promise<LocalService> {
  const { identities, authorizer, model } = options;
  return startGateway({
    target: options.target,
    host: options.host,
    ...(options.port !== undefined ? { port: options.port } : {}),
    // Only DeleteObjects needs its body read (the keys it deletes); every other body streams through.
    bufferBody: false,
    async decide(request) {
      const url = new URL(request.url ?? '/', 'http://local');
      const method = request.method ?? 'GET';
      const head = method === 'HEAD';
      const accessKeyId = accessKeyIdOf(request.headers, url.searchParams);
      const caller = accessKeyId === undefined ? undefined : identities.callerOf(accessKeyId);
      if (!caller) {
        return {
          forward: false,
          refusal:
            accessKeyId === undefined
              ? s3Error('AccessDenied', 'Access Denied', head)
              : s3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', head),
        };
      }
      const [bucket = '', ...rest] = url.pathname.slice(1).split('/');
      const key = rest.length > 0 && rest.join('/') !== '' ? decodeURIComponent(rest.join('/')) : undefined;
      let body: Buffer | undefined;
      let deleteKeys: string[] = [];
      if (method === 'POST' && key === undefined && url.searchParams.has('delete')) {
        body = await readAll(request);
        deleteKeys = [...body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => decodeXml(m[1] as string));
      }
      const checks = [
        ...s3Checks(method, decodeURIComponent(bucket), key, url.searchParams, request.headers, deleteKeys),
        ...kmsChecks(method, decodeURIComponent(bucket), key, url.searchParams, request.headers, model, options.region, options.accountId),
      ];
      const denial = await authorizer.firstDenial(checks.map((c) => ({ ...c, caller })));
      if (denial) return { forward: false, refusal: s3Error('AccessDenied', new AccessDeniedError(denial).message, head) };
      const fault = options.faults?.meet({
        service: 's3',
        actions: checks.filter((c) => c.action.startsWith('s3:')).map((c) => c.action.slice('s3:'.length)),
        caller: sessionNameOf(caller),
      });
      if (fault) return { forward: false, refusal: fault === 'unreachable' ? 'connection-reset' : s3Fault(fault, head) };
      // S3 undoes the aws-chunked encoding the SDK streams a body with; s3rver would store the framing.
      const chunked = isAwsChunked(request.headers);
      const headers = chunked ? decodedHeaders(request.headers) : passHeaders(request.headers);
      // s3rver knows one account: the request goes on signed as it (it does not check v4 signatures).
      if (typeof headers.authorization === 'string') headers.authorization = headers.authorization.replace(/Credential=[^/]+\//, `Credential=${LOCAL_CREDENTIALS.accessKeyId}/`);
      const missingAnswer = (method === 'GET' || head) && key !== undefined ? () => listDenied(caller, decodeURIComponent(bucket)) : undefined;
      return {
        forward: true,
        headers,
        ...(body ? { body } : {}),
        ...(chunked && !body
          ? {
              decodeBody: {
                transform: awsChunkedDecoder(typeof request.headers['x-amz-trailer'] === 'string' ? request.headers['x-amz-trailer'] : undefined),
                refusalOf: (error: Error) => (error instanceof ChunkedBodyError ? s3Error(error.code, error.message, head, 400) : undefined),
              },
            }
          : {}),
        ...(missingAnswer
          ? {
              // Without s3:ListBucket, S3 does not say whether a key exists: a missing object is a 403.
              onAnswer: async (answer: IncomingMessage) => (answer.statusCode === 404 && (await missingAnswer()) ? s3Error('AccessDenied', 'Access Denied', head) : undefined),
            }
          : {}),
      };
    },
  });

  async function listDenied(caller: Caller, bucket: string): Promise<boolean> {
    return !(await authorizer.decide({ caller, action: 's3:ListBucket', resource: `arn:aws:s3:::${bucket}` })).allowed;
  }
}

/** S3's answers when it sheds load or fails. */
function s3Fault(kind: Exclude<FaultKind, 'unreachable'>, head: boolean): Refusal {
  return kind === 'throttle'
    ? s3Error('SlowDown', 'Please reduce your request rate.', head, 503)
    : s3Error('InternalError', 'We encountered an internal error. Please try again.', head, 500);
}

function s3Error(code: string, message: string, head: boolean, status = 403): Refusal {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const body = head
    ? ''
    : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${encodeXml(message)}</Message><RequestId>${requestId}</RequestId><HostId>${randomBytes(24).toString('base64')}</HostId></Error>`;
  return { status, headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId }, body };
}

function encodeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function decodeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

async function readAll(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

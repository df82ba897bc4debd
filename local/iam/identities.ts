// Credentials that say who is calling. Each function runs with an access key id of its own, mapped to a session
// of its execution role (as Lambda gives a function its role's temporary credentials); the runtime itself and
// the CLI sign with the fixed local operator key, the administrator. Signatures are not checked: the access key
// id alone identifies the caller (docs/local-runtime.md).
import { createHash } from 'node:crypto';
import { LOCAL_CREDENTIALS } from '../aws-clients';
import type { Caller } from './authorizer';

export interface LocalCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** Whoever signs with LOCAL_CREDENTIALS: the operator, as the deploying user would be on AWS. */
export function administrator(accountId: string): Caller {
  return { kind: 'admin', principal: `arn:aws:iam::${accountId}:user/modelgate-local-operator` };
}

/** The session ARN AWS reports for a role's session: `arn:aws:sts::<account>:assumed-role/<role name>/<session>`. */
export function roleSession(roleArn: string, sessionName: string): Caller {
  const [, , , , account, resource = ''] = roleArn.split(':');
  const roleName = resource.split('/').pop() as string;
  return { kind: 'role', principal: `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`, roleArn };
}

/** The session name of a role session (a function's calls carry the function's name); undefined for other callers. */
export function sessionNameOf(caller: Caller): string | undefined {
  return caller.kind === 'role' ? caller.principal.split('/').pop() : undefined;
}

export class LocalIdentities {
  private readonly byKey = new Map<string, Caller>();

  constructor(accountId: string) {
    this.byKey.set(LOCAL_CREDENTIALS.accessKeyId, administrator(accountId));
  }

  /** Credentials for a session of a role: the same key for the same role and session name, across restarts. */
  issue(roleArn: string, sessionName: string): LocalCredentials {
    const caller = roleSession(roleArn, sessionName);
    const accessKeyId = `ASIA${createHash('sha256').update(caller.principal).digest('hex').slice(0, 16).toUpperCase()}`;
    this.byKey.set(accessKeyId, caller);
    return { accessKeyId, secretAccessKey: createHash('sha256').update(`secret:${caller.principal}`).digest('base64').slice(0, 40) };
  }

  /** The caller an access key id stands for; undefined for a key the runtime never issued. */
  callerOf(accessKeyId: string): Caller | undefined {
    return this.byKey.get(accessKeyId);
  }
}

/** The access key id of a SigV4-signed request: the Authorization header's Credential, or X-Amz-Credential of a presigned URL. */
export function accessKeyIdOf(headers: Readonly<Record<string, string | string[] | undefined>>, query?: URLSearchParams): string | undefined {
  const authorization = headers.authorization;
  const header = typeof authorization === 'string' ? /Credential=([^/,\s]+)\//.exec(authorization)?.[1] : undefined;
  return header ?? query?.get('X-Amz-Credential')?.split('/')[0];
}

/**
 * What the CloudWatch and CloudWatch Logs sinks share about their AWS SDK clients: the client
 * settings minutely passes, the start-up check of region and credentials, and which failures
 * only a person can fix.
 *
 * **The SDK's own chain decides everything the user did not set.** A setting reaches the
 * client only when the user gave it (a library option, a CLI flag); otherwise the SDK reads
 * it as the AWS CLI does: the environment (`AWS_REGION`, `AWS_ENDPOINT_URL_CLOUDWATCH`,
 * `AWS_ENDPOINT_URL`, `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`, `AWS_DISABLE_REQUEST_COMPRESSION`,
 * credentials), then the shared config and credentials files of the profile (`AWS_PROFILE`,
 * `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`: `region`, `endpoint_url`, a `services`
 * section, `disable_request_compression`), then instance and task roles.
 *
 * **Two deliberate overrides**, each because minutely does the job itself and counts it:
 * - one SDK attempt per call (`maxAttempts: 1`, so `AWS_MAX_ATTEMPTS` and `max_attempts` are
 *   not used): the publisher and the log shipper retry with their own backoff, keep order,
 *   and count every retry; SDK retries inside one call would be invisible and would hold a
 *   request slot for the whole series;
 * - a request timeout (10 s, connect 5 s) that fails the request: the SDK alone waits for a
 *   hung socket for minutes and only logs.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { invalidOption } from '../errors.js'

/** The settings a user may pass to either sink; each is optional. */
export interface AwsClientOptions {
  region?: string
  endpoint?: string
  credentials?: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }
  /** Per-request timeout, ms. @default 10000 */
  requestTimeoutMs?: number
  /** SDK attempts per call. @default 1 */
  sdkMaxAttempts?: number
}

/** One SDK attempt per call: the publisher and the log shipper retry (see above). */
export const kSdkMaxAttempts = 1
/** A request that takes longer fails, and is retried by minutely. */
export const kDefaultRequestTimeoutMs = 10_000
const kConnectionTimeoutMs = 5_000

/**
 * The client configuration: what the user set, plus the two deliberate overrides. Nothing
 * else, so that the SDK's chain decides the rest.
 */
export function awsClientConfig (o: AwsClientOptions): Record<string, unknown> {
  return {
    ...(o.region !== undefined && o.region !== '' ? { region: o.region } : {}),
    ...(o.endpoint !== undefined && o.endpoint !== '' ? { endpoint: o.endpoint } : {}),
    ...(o.credentials !== undefined ? { credentials: o.credentials } : {}),
    maxAttempts: o.sdkMaxAttempts ?? kSdkMaxAttempts,
    // requestTimeout alone only logs; throwOnRequestTimeout makes a hung request fail (and be retried).
    requestHandler: { requestTimeout: o.requestTimeoutMs ?? kDefaultRequestTimeoutMs, connectionTimeout: kConnectionTimeoutMs, throwOnRequestTimeout: true },
  }
}

/** The profile the SDK reads, and where, as a person would look for it. */
function profileWhere (env: NodeJS.ProcessEnv): { section: string, config: string, credentials: string, profile: string } {
  const home = env.HOME ?? env.USERPROFILE ?? homedir()
  const profile = env.AWS_PROFILE !== undefined && env.AWS_PROFILE !== '' ? env.AWS_PROFILE : 'default'
  return {
    profile,
    section: profile === 'default' ? '[default]' : `[profile ${profile}]`,
    config: env.AWS_CONFIG_FILE !== undefined && env.AWS_CONFIG_FILE !== '' ? env.AWS_CONFIG_FILE : join(home, '.aws', 'config'),
    credentials: env.AWS_SHARED_CREDENTIALS_FILE !== undefined && env.AWS_SHARED_CREDENTIALS_FILE !== '' ? env.AWS_SHARED_CREDENTIALS_FILE : join(home, '.aws', 'credentials'),
  }
}

/** The part of an SDK client the start-up check uses. */
export interface ResolvableClient {
  config: { region: () => Promise<string>, credentials: () => Promise<{ accessKeyId?: string }> }
}

/**
 * Resolves the client's region and credentials through the SDK's chain, as its first
 * request would. Rejects with a ConfigError that says what to set (`options.region` becomes
 * `--region` in the CLI's messages). `service`: e.g. `CloudWatch`.
 */
export async function checkAwsClient (client: ResolvableClient, service: string, env: NodeJS.ProcessEnv = process.env): Promise<{ region: string }> {
  const w = profileWhere(env)
  let region: string
  try {
    region = await client.config.region()
  } catch (err) {
    throw invalidOption(`no AWS region for ${service}: set options.region, AWS_REGION, or region in the profile ${w.section} of ${w.config} (${(err as Error).message})`, { cause: err })
  }
  if (typeof region !== 'string' || region === '') {
    throw invalidOption(`no AWS region for ${service}: set options.region, AWS_REGION, or region in the profile ${w.section} of ${w.config}`)
  }
  try {
    await client.config.credentials()
  } catch (err) {
    // With AWS_PROFILE set, the SDK reads that profile only (AWS_ACCESS_KEY_ID is ignored).
    const what = w.profile !== 'default'
      ? `give the profile ${w.section} (AWS_PROFILE) credentials in ${w.credentials} or ${w.config} (keys, sso_session, credential_process or role_arn), or unset AWS_PROFILE`
      : `set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a profile with credentials in ${w.credentials} or ${w.config}, or run with an instance or task role`
    throw invalidOption(`no AWS credentials for ${service}: ${what} (the SDK's chain said: ${(err as Error).message})`, { cause: err })
  }
  return { region }
}

/**
 * Failures that repeat on every request until a person changes something (credentials,
 * permissions, region, endpoint): retrying at the transient cadence only hammers. The
 * names are the SDK's `err.name` (CloudWatch's query-compatible codes and the JSON
 * protocol's exception names both appear).
 */
const kPermanentNames = new Set([
  'AccessDenied', 'AccessDeniedException', 'InvalidClientTokenId', 'UnrecognizedClientException',
  'ExpiredToken', 'ExpiredTokenException', 'InvalidSignatureException', 'SignatureDoesNotMatch',
  'IncompleteSignature', 'IncompleteSignatureException', 'MissingAuthenticationToken', 'MissingAuthenticationTokenException',
  'InvalidAccessKeyId', 'NotAuthorized', 'OptInRequired',
  // The SDK's own: no credentials in the chain, or they expired and cannot be refreshed.
  'CredentialsProviderError', 'TokenProviderError',
])

/** Says whether an SDK failure is one only a person can fix (see {@link kPermanentNames}). */
export function isPermanentAwsError (err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false
  const e = err as { name?: string, code?: string, message?: string, $metadata?: { httpStatusCode?: number } }
  if (typeof e.name === 'string' && kPermanentNames.has(e.name)) return true
  const status = e.$metadata?.httpStatusCode
  if (status === 401 || status === 403) return true
  // The endpoint's host does not exist: an unknown region, or a mistyped endpoint URL.
  if (e.code === 'ENOTFOUND') return true
  const message = typeof e.message === 'string' ? e.message : ''
  // Raised by the SDK before any request: no region in the chain, or one that is no hostname.
  return status === undefined && /^(Region is missing|Region not accepted)/.test(message)
}

/**
 * Failures that leave no doubt the request never reached the service: the connection could
 * not be made (refused, no route, the name did not resolve, the connect timeout).
 */
const kNotSentCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENETDOWN'])

/**
 * Says whether a failed call may nevertheless have been applied by the service: it got no
 * answer (no HTTP status) for a request that had left (a request timeout, a connection reset
 * or closed once the body was on its way). Sending it again may then count it twice.
 */
export function isOutcomeUnknown (err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false
  const e = err as { name?: string, code?: string, message?: string, $metadata?: { httpStatusCode?: number } }
  if (e.$metadata?.httpStatusCode !== undefined) return false   // the service answered
  if (isPermanentAwsError(err)) return false   // raised before any request (region, credentials), or no such host
  if (typeof e.code === 'string' && kNotSentCodes.has(e.code)) return false
  // The SDK's connect timeout: the socket never connected.
  if (typeof e.message === 'string' && /did not establish a connection/.test(e.message)) return false
  return true
}

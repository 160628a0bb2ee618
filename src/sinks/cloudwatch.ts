/**
 * PutMetricData through the real `@aws-sdk/client-cloudwatch`, imported lazily so that the
 * library's hot path and EMF-only users never load it.
 *
 * Only what the caller sets reaches the client; the SDK's own chain (environment, shared
 * config and credentials files, profiles) decides the rest: see `../aws-client.ts`, which
 * also says why the SDK makes one attempt per request (the engine's publisher retries,
 * with backoff, counted in stats) and why requests time out.
 */
import type { DatumBatch } from '../encode/datum.js'
import { kRequestBodyBudget } from '../encode/batcher.js'
import { SinkError } from '../errors.js'
import { kMaxDatumsPerRequest, kMaxValuesPerDatum } from '../limits.js'
import { awsClientConfig, checkAwsClient, isOutcomeUnknown, isPermanentAwsError, type ResolvableClient } from './aws-client.js'
import type { MetricSink } from './sink.js'
import { checkOptionNames, optionNames } from '../option-names.js'

/** Options of {@link cloudWatchSink}. All are optional: the SDK's standard chain fills them. */
export interface CloudWatchSinkOptions {
  /** AWS region. @default the SDK's chain (AWS_REGION, region in the profile) */
  region?: string
  /**
   * Endpoint URL, e.g. a VPC endpoint or a local test server. @default the SDK's chain
   * (AWS_ENDPOINT_URL_CLOUDWATCH, AWS_ENDPOINT_URL, endpoint_url in the profile, unless
   * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS), else AWS's
   */
  endpoint?: string
  /** Static credentials. @default the SDK's credential chain */
  credentials?: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }
  /**
   * Turn off gzip of bodies ≥ 10 KB (some test servers do not inflate).
   * @default the SDK's chain (AWS_DISABLE_REQUEST_COMPRESSION, disable_request_compression in the profile), else false
   */
  disableRequestCompression?: boolean
  /** Per-request timeout. @default 10000 */
  requestTimeoutMs?: number
  /** SDK-level attempts per request. @default 1 (the engine retries) */
  sdkMaxAttempts?: number
  /** A ready CloudWatchClient to use instead of building one. */
  client?: { send: (command: any) => Promise<unknown>, destroy?: () => void }
}

const kCloudWatchSinkOptionNames = optionNames<CloudWatchSinkOptions>({
  region: true, endpoint: true, credentials: true, disableRequestCompression: true, requestTimeoutMs: true, sdkMaxAttempts: true, client: true,
})

/** Error names CloudWatch uses for throttling. */
const kThrottleNames = new Set(['Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottled', 'TooManyRequestsException', 'RequestLimitExceeded', 'LimitExceeded'])

/**
 * Decides whether a failed PutMetricData may succeed if sent again: `throttled` (slow
 * down), `permanent` (not until a person fixes credentials, permissions, region or endpoint:
 * kept and retried at the backoff ceiling), otherwise a 4xx is the request's own fault
 * (not retried) and anything else transient.
 */
export function isRetryable (err: unknown): { retryable: boolean, throttled: boolean, permanent: boolean } {
  const e = err as { name?: string, code?: string, $metadata?: { httpStatusCode?: number }, $retryable?: unknown }
  if (e === null || typeof e !== 'object') return { retryable: false, throttled: false, permanent: false }
  const name = e.name ?? ''
  if (kThrottleNames.has(name)) return { retryable: true, throttled: true, permanent: false }
  const status = e.$metadata?.httpStatusCode
  if (status === 429) return { retryable: true, throttled: true, permanent: false }
  if (isPermanentAwsError(err)) return { retryable: true, throttled: false, permanent: true }
  if (status !== undefined && status >= 500) return { retryable: true, throttled: false, permanent: false }
  if (status !== undefined && status >= 400) return { retryable: false, throttled: false, permanent: false }
  // No HTTP status: the request never got an answer (refused, reset, timed out).
  return { retryable: true, throttled: false, permanent: false }
}

/** Creates a sink that publishes with PutMetricData (`check()` resolves region and credentials). Throws a ConfigError on an unknown option (a typo). */
export function cloudWatchSink (options: CloudWatchSinkOptions = {}): MetricSink & { readonly lastRequestId?: string, check (): Promise<{ region: string }> } {
  checkOptionNames(options, kCloudWatchSinkOptionNames, 'cloudWatchSink')
  let client: CloudWatchSinkOptions['client'] | undefined = options.client
  let Put: (new (input: unknown) => unknown) | undefined
  let loading: Promise<void> | undefined

  async function load (): Promise<void> {
    const mod = await import('@aws-sdk/client-cloudwatch')
    Put = mod.PutMetricDataCommand as unknown as new (input: unknown) => unknown
    if (client === undefined) {
      client = new mod.CloudWatchClient({
        ...awsClientConfig(options),
        ...(options.disableRequestCompression !== undefined ? { disableRequestCompression: options.disableRequestCompression } : {}),
      })
    }
  }

  return {
    name: 'cloudwatch',
    maxValuesPerDatum: kMaxValuesPerDatum,
    maxDatumsPerBatch: kMaxDatumsPerRequest,
    maxBatchBytes: kRequestBodyBudget,
    async send (batch: DatumBatch) {
      if (Put === undefined) { loading ??= load(); await loading }
      try {
        await client!.send(new Put!({ Namespace: batch.namespace, MetricData: batch.datums }))
      } catch (err) {
        const { retryable, throttled, permanent } = isRetryable(err)
        // No answer to a request that left: CloudWatch may have stored it (a resend may count twice).
        const outcomeUnknown = retryable && !throttled && !permanent && isOutcomeUnknown(err)
        const e = err as { name?: string, message?: string }
        const what = throttled ? 'throttled' : permanent ? 'failed, and will until the configuration is fixed' : outcomeUnknown ? 'got no answer (it may have been stored; will retry)' : retryable ? 'failed (will retry)' : 'rejected'
        const se = new SinkError(`PutMetricData of ${batch.datums.length} datums to ${batch.namespace} ${what}: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`,
          { retryable, throttled, permanent, outcomeUnknown, datums: batch.datums.length, cause: err })
        throw se
      }
    },
    /**
     * Resolves the region and the credentials through the SDK's chain, as the first request
     * would; rejects with a ConfigError that says what to set. A ready `client` given in the
     * options is checked only when it exposes the SDK's `config` providers.
     */
    async check () {
      if (Put === undefined) { loading ??= load(); await loading }
      const c = client as unknown as Partial<ResolvableClient>
      if (typeof c.config?.region !== 'function' || typeof c.config?.credentials !== 'function') return { region: options.region ?? '' }
      return await checkAwsClient(c as ResolvableClient, 'CloudWatch')
    },
    async close () { client?.destroy?.() },
  }
}

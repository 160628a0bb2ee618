/**
 * PutMetricData through the real `@aws-sdk/client-cloudwatch`, imported lazily so that the
 * library's hot path and EMF-only users never load it.
 *
 * Retries belong to the engine's publisher (backoff with jitter, counted in stats), so the
 * SDK is set to one attempt by default: a retry hidden inside the SDK would be invisible.
 */
import type { DatumBatch } from '../encode/datum.js'
import { kRequestBodyBudget } from '../encode/batcher.js'
import { SinkError } from '../errors.js'
import { kMaxDatumsPerRequest, kMaxValuesPerDatum } from '../limits.js'
import type { MetricSink } from './sink.js'
import { checkOptionNames, optionNames } from '../option-names.js'

/** Options of {@link cloudWatchSink}. All are optional: the SDK's standard chain fills them. */
export interface CloudWatchSinkOptions {
  /** AWS region. @default the SDK's chain (AWS_REGION, profile) */
  region?: string
  /** Endpoint URL, e.g. a VPC endpoint or a local test server. @default AWS_ENDPOINT_URL_CLOUDWATCH, else AWS's */
  endpoint?: string
  /** Static credentials. @default the SDK's credential chain */
  credentials?: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }
  /** Turn off gzip of bodies ≥ 10 KB (some test servers do not inflate). @default false */
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

/** Decides whether a failed PutMetricData may succeed if sent again. */
export function isRetryable (err: unknown): { retryable: boolean, throttled: boolean } {
  const e = err as { name?: string, code?: string, $metadata?: { httpStatusCode?: number }, $retryable?: unknown }
  if (e === null || typeof e !== 'object') return { retryable: false, throttled: false }
  const name = e.name ?? ''
  if (kThrottleNames.has(name)) return { retryable: true, throttled: true }
  const status = e.$metadata?.httpStatusCode
  if (status === 429) return { retryable: true, throttled: true }
  if (status !== undefined && status >= 500) return { retryable: true, throttled: false }
  if (status !== undefined && status >= 400) return { retryable: false, throttled: false }
  // No HTTP status: the request never got an answer (refused, reset, timed out).
  return { retryable: true, throttled: false }
}

/** Creates a sink that publishes with PutMetricData. Throws a ConfigError on an unknown option (a typo). */
export function cloudWatchSink (options: CloudWatchSinkOptions = {}): MetricSink & { readonly lastRequestId?: string } {
  checkOptionNames(options, kCloudWatchSinkOptionNames, 'cloudWatchSink')
  let client: CloudWatchSinkOptions['client'] | undefined = options.client
  let Put: (new (input: unknown) => unknown) | undefined
  let loading: Promise<void> | undefined

  async function load (): Promise<void> {
    const mod = await import('@aws-sdk/client-cloudwatch')
    Put = mod.PutMetricDataCommand as unknown as new (input: unknown) => unknown
    if (client === undefined) {
      const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_CLOUDWATCH
      client = new mod.CloudWatchClient({
        ...(options.region !== undefined ? { region: options.region } : {}),
        ...(endpoint !== undefined && endpoint !== '' ? { endpoint } : {}),
        ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
        disableRequestCompression: options.disableRequestCompression ?? false,
        maxAttempts: options.sdkMaxAttempts ?? 1,
        // requestTimeout alone only logs; throwOnRequestTimeout makes a hung request fail (and be retried).
        requestHandler: { requestTimeout: options.requestTimeoutMs ?? 10_000, connectionTimeout: 5_000, throwOnRequestTimeout: true },
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
        const { retryable, throttled } = isRetryable(err)
        const e = err as { name?: string, message?: string }
        const what = throttled ? 'throttled' : retryable ? 'failed (will retry)' : 'rejected'
        const se = new SinkError(`PutMetricData of ${batch.datums.length} datums to ${batch.namespace} ${what}: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`,
          { retryable, throttled, datums: batch.datums.length, cause: err })
        throw se
      }
    },
    async close () { client?.destroy?.() },
  }
}

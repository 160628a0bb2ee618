/**
 * CloudWatch Logs through the real `@aws-sdk/client-cloudwatch-logs` (AWS JSON 1.1,
 * `x-amz-target: Logs_20140328.*`), imported lazily so nothing loads it unless logs are
 * shipped there.
 *
 * - The group and stream are created when missing: `ensureStream` calls CreateLogStream and,
 *   when the group does not exist either, CreateLogGroup then CreateLogStream again.
 *   `ResourceAlreadyExistsException` is success (another instance, or an earlier run, made it).
 * - No sequence token is sent: PutLogEvents ignores them now.
 * - One SDK attempt per call: retries belong to the shipper, which keeps order and counts them.
 * - Only what the caller sets reaches the client; the SDK's chain decides the rest (see
 *   `../../aws-client.ts`).
 */
import type { LogEvent, LogSink, LogStreamRef, PutResult } from '../sink.js'
import { LogSinkError, type LogSinkErrorKind } from '../sink.js'
import { kEventOverheadBytes, kMaxBatchBytes, kMaxEventsPerBatch } from '../limits.js'
import { awsClientConfig, checkAwsClient, isPermanentAwsError, type ResolvableClient } from '../../sinks/aws-client.js'

/** Options of {@link cloudWatchLogsSink}; all optional (the SDK's chain fills them). */
export interface CloudWatchLogsSinkOptions {
  /** AWS region. @default the SDK's chain (AWS_REGION, region in the profile) */
  region?: string
  /**
   * Endpoint URL. @default the SDK's chain (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS,
   * AWS_ENDPOINT_URL, endpoint_url in the profile, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS), else AWS's
   */
  endpoint?: string
  /** Static credentials. @default the SDK's credential chain */
  credentials?: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }
  /** Per-call timeout. @default 10000 */
  requestTimeoutMs?: number
  /** A ready client (anything with `send(command, { abortSignal })`). */
  client?: { send: (command: any, options?: any) => Promise<any>, destroy?: () => void }
}

const kThrottle = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded'])

/** Classifies an SDK error for the shipper. */
export function classifyLogsError (err: unknown): LogSinkErrorKind {
  const e = err as { name?: string, $metadata?: { httpStatusCode?: number } } | null
  if (e === null || typeof e !== 'object') return 'retryable'
  const name = e.name ?? ''
  if (name === 'ResourceNotFoundException') return 'not_found'
  if (kThrottle.has(name)) return 'throttled'
  if (name === 'InvalidParameterException' || name === 'SerializationException') return 'invalid'
  if (name === 'InvalidSequenceTokenException') return 'retryable'
  const status = e.$metadata?.httpStatusCode
  if (status === 429) return 'throttled'
  // Credentials, permissions, region: fixed by a person (or a rotation), so kept and retried slowly.
  if (isPermanentAwsError(err)) return 'blocked'
  if (status !== undefined && status >= 500) return 'retryable'
  if (status !== undefined && status >= 400) return 'fatal'
  return 'retryable' // no answer: refused, reset, timed out
}

function wrap (err: unknown, what: string): LogSinkError {
  const kind = classifyLogsError(err)
  const e = err as { name?: string, message?: string }
  return new LogSinkError(`${what}: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`, kind, { cause: err })
}

/** Creates a sink that writes with PutLogEvents. */
export function cloudWatchLogsSink (options: CloudWatchLogsSinkOptions = {}): LogSink {
  let client = options.client
  let mod: typeof import('@aws-sdk/client-cloudwatch-logs') | undefined
  let loading: Promise<void> | undefined

  async function load (): Promise<void> {
    mod = await import('@aws-sdk/client-cloudwatch-logs')
    if (client === undefined) client = new mod.CloudWatchLogsClient(awsClientConfig(options))
  }
  const ready = async (): Promise<typeof import('@aws-sdk/client-cloudwatch-logs')> => {
    if (mod === undefined) { loading ??= load(); await loading }
    return mod!
  }
  const isExists = (err: unknown): boolean => (err as { name?: string })?.name === 'ResourceAlreadyExistsException'

  return {
    name: 'cloudwatch-logs',
    maxEventsPerBatch: kMaxEventsPerBatch,
    maxBatchBytes: kMaxBatchBytes,
    eventOverheadBytes: kEventOverheadBytes,
    async ensureStream (ref: LogStreamRef, signal?: AbortSignal) {
      const m = await ready()
      const createStream = async (): Promise<void> => {
        try {
          await client!.send(new m.CreateLogStreamCommand({ logGroupName: ref.group, logStreamName: ref.stream }), { abortSignal: signal })
        } catch (err) {
          if (!isExists(err)) throw err
        }
      }
      try {
        await createStream()
      } catch (err) {
        if (classifyLogsError(err) !== 'not_found') throw wrap(err, `CreateLogStream ${ref.group} ${ref.stream}`)
        try {
          await client!.send(new m.CreateLogGroupCommand({ logGroupName: ref.group }), { abortSignal: signal })
        } catch (e2) {
          if (!isExists(e2)) throw wrap(e2, `CreateLogGroup ${ref.group}`)
        }
        try {
          await createStream()
        } catch (e3) {
          throw wrap(e3, `CreateLogStream ${ref.group} ${ref.stream}`)
        }
      }
    },
    async put (ref: LogStreamRef, events: readonly LogEvent[], signal?: AbortSignal): Promise<PutResult | undefined> {
      const m = await ready()
      try {
        const out = await client!.send(new m.PutLogEventsCommand({
          logGroupName: ref.group,
          logStreamName: ref.stream,
          logEvents: events as LogEvent[],
        }), { abortSignal: signal }) as { rejectedLogEventsInfo?: { tooNewLogEventStartIndex?: number, tooOldLogEventEndIndex?: number, expiredLogEventEndIndex?: number } }
        const r = out?.rejectedLogEventsInfo
        if (r === undefined) return undefined
        return { rejected: { tooNewStartIndex: r.tooNewLogEventStartIndex, tooOldEndIndex: r.tooOldLogEventEndIndex, expiredEndIndex: r.expiredLogEventEndIndex } }
      } catch (err) {
        // Old endpoints may still answer this for a batch they already have: it is stored.
        if ((err as { name?: string })?.name === 'DataAlreadyAcceptedException') return undefined
        throw wrap(err, `PutLogEvents of ${events.length} events to ${ref.group} ${ref.stream}`)
      }
    },
    /** Resolves the region and credentials through the SDK's chain; rejects with a ConfigError saying what to set. */
    async check () {
      await ready()
      const c = client as unknown as Partial<ResolvableClient>
      if (typeof c.config?.region !== 'function' || typeof c.config?.credentials !== 'function') return { region: options.region ?? '' }
      return await checkAwsClient(c as ResolvableClient, 'CloudWatch Logs')
    },
    async close () { client?.destroy?.() },
  }
}

/**
 * The AWS SDK's own conventions hold: every setting the user did not pass is left to the
 * SDK's chain (environment, shared config and credentials files, profiles), and what minutely
 * overrides on purpose is exactly that (one SDK attempt per request). One test per convention,
 * each through the real SDK (cloudWatchSink, cloudWatchLogsSink) against a loopback server
 * that records how each request arrived (operation, gzip, SigV4 credential scope), under an
 * environment of its own (test/helpers/aws-env.ts). The last test runs the sidecar CLI as a
 * child with nothing but environment variables and a moto peer: what a user of the AWS CLI
 * or the CloudWatch agent would try first.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ListMetricsCommand } from '@aws-sdk/client-cloudwatch'
import { cloudWatchSink, type DatumBatch, type SinkError } from '../../src/index.js'
import { cloudWatchLogsSink } from '../../src/logs/sinks/cloudwatch-logs.js'
import { startRecordingAwsEndpoint, type RecordingAwsEndpoint } from '../helpers/recording-aws-endpoint.js'
import { withAwsEnv } from '../helpers/aws-env.js'
import { useMoto } from '../helpers/moto.js'

const kKeys = { AWS_ACCESS_KEY_ID: 'AKIDENVTEST', AWS_SECRET_ACCESS_KEY: 'env-test-secret' }
/** The keys of a profile (the SDK ignores AWS_ACCESS_KEY_ID and friends once AWS_PROFILE is set). */
const kProfileKeys = 'aws_access_key_id = AKIDPROFILEKEYS\naws_secret_access_key = profile-secret\n'
/** A region whose AWS endpoint host does not exist anywhere: where a request goes when no endpoint is configured. */
const kNowhere = 'xx-test-1'

let rec: RecordingAwsEndpoint

beforeAll(async () => { rec = await startRecordingAwsEndpoint() })
afterAll(async () => { await rec?.close() })
beforeEach(() => {
  (rec.requests as unknown[]).length = 0
  rec.failWith(undefined)
})

/** A batch whose JSON body is over the SDK's 10,240-byte compression threshold. */
function bigBatch (): DatumBatch {
  const t = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000)
  const datums = Array.from({ length: 120 }, (_, i) => ({
    MetricName: `ConventionMetric${i}`,
    Dimensions: [{ Name: 'EndpointName', Value: 'conventions' }],
    Timestamp: t,
    Unit: 'Milliseconds' as const,
    StorageResolution: 60 as const,
    StatisticValues: { SampleCount: 2, Sum: 3, Minimum: 1, Maximum: 2 },
    Values: [1, 2],
    Counts: [1, 1],
  }))
  return { namespace: 'Minutely/Conventions', datums, bytes: 30_000 }
}

/** Sends one batch through a fresh sink and returns what the endpoint recorded. */
async function send (options: Parameters<typeof cloudWatchSink>[0] = {}): Promise<RecordingAwsEndpoint['requests']> {
  const sink = cloudWatchSink(options)
  try { await sink.send(bigBatch()) } finally { await sink.close?.() }
  return rec.requests
}

describe('CloudWatch: endpoints come from the SDK chain unless given', () => {
  it('AWS_ENDPOINT_URL_CLOUDWATCH', async () => {
    const got = await withAwsEnv({ ...kKeys, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_CLOUDWATCH: rec.url }, async () => await send())
    expect(got.map(r => [r.operation, r.service, r.region])).toEqual([['PutMetricData', 'monitoring', 'us-east-1']])
  })

  it('AWS_ENDPOINT_URL (every service)', async () => {
    const got = await withAwsEnv({ ...kKeys, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: rec.url }, async () => await send())
    expect(got.map(r => r.operation)).toEqual(['PutMetricData'])
  })

  it('endpoint_url in the profile (AWS_PROFILE, AWS_CONFIG_FILE), with region and credentials from the profile (AWS_SHARED_CREDENTIALS_FILE)', async () => {
    const got = await withAwsEnv(async home => ({
      AWS_PROFILE: 'team',
      AWS_CONFIG_FILE: await home.file('config', `[profile team]\nregion = eu-west-3\nendpoint_url = ${rec.url}\n`),
      AWS_SHARED_CREDENTIALS_FILE: await home.file('credentials', '[team]\naws_access_key_id = AKIDPROFILETEST\naws_secret_access_key = profile-secret\n'),
    }), async () => await send())
    expect(got.map(r => [r.operation, r.region, r.accessKeyId])).toEqual([['PutMetricData', 'eu-west-3', 'AKIDPROFILETEST']])
  })

  it('a services section of the profile (cloudwatch = endpoint_url …)', async () => {
    const got = await withAwsEnv(async home => ({
      AWS_PROFILE: 'svc',
      AWS_CONFIG_FILE: await home.file('config', `[profile svc]\n${kProfileKeys}region = us-west-2\nservices = local\n[services local]\ncloudwatch =\n  endpoint_url = ${rec.url}\n`),
    }), async () => await send())
    expect(got.map(r => [r.operation, r.region])).toEqual([['PutMetricData', 'us-west-2']])
  })

  it('AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true ignores them (the request goes to AWS\'s own endpoint of the region)', async () => {
    const err = await withAwsEnv({ ...kKeys, AWS_REGION: kNowhere, AWS_ENDPOINT_URL_CLOUDWATCH: rec.url, AWS_ENDPOINT_URL: rec.url, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' },
      async () => await send().then(() => undefined, (e: unknown) => e as SinkError))
    expect(rec.requests).toEqual([])
    expect(err?.code).toBe('METRICS_ERR_SINK')
    expect(err?.message).toContain(`monitoring.${kNowhere}.amazonaws.com`)
  })

  it('an endpoint given in the options wins over the environment, and over AWS_IGNORE_CONFIGURED_ENDPOINT_URLS', async () => {
    const got = await withAwsEnv({ ...kKeys, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_CLOUDWATCH: 'http://127.0.0.1:9', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' },
      async () => await send({ endpoint: rec.url }))
    expect(got.map(r => r.operation)).toEqual(['PutMetricData'])
  })
})

describe('CloudWatch: request compression comes from the SDK chain unless given', () => {
  it('on by default (the control: bodies ≥ 10 KB are gzipped)', async () => {
    const got = await withAwsEnv({ ...kKeys, AWS_REGION: 'us-east-1' }, async () => await send({ endpoint: rec.url }))
    expect(got.map(r => r.gzipped)).toEqual([true])
  })

  it('AWS_DISABLE_REQUEST_COMPRESSION=true', async () => {
    const got = await withAwsEnv({ ...kKeys, AWS_REGION: 'us-east-1', AWS_DISABLE_REQUEST_COMPRESSION: 'true' }, async () => await send({ endpoint: rec.url }))
    expect(got.map(r => r.gzipped)).toEqual([false])
  })

  it('disable_request_compression = true in the profile', async () => {
    const got = await withAwsEnv(async home => ({
      AWS_PROFILE: 'nozip',
      AWS_CONFIG_FILE: await home.file('config', `[profile nozip]\n${kProfileKeys}region = us-east-1\ndisable_request_compression = true\n`),
    }), async () => await send({ endpoint: rec.url }))
    expect(got.map(r => r.gzipped)).toEqual([false])
  })

  it('disableRequestCompression given in the options overrides the environment', async () => {
    const got = await withAwsEnv({ ...kKeys, AWS_REGION: 'us-east-1', AWS_DISABLE_REQUEST_COMPRESSION: 'true' },
      async () => await send({ endpoint: rec.url, disableRequestCompression: false }))
    expect(got.map(r => r.gzipped)).toEqual([true])
  })
})

describe('CloudWatch: region and credentials come from the SDK chain unless given', () => {
  it('AWS_REGION and AWS_ACCESS_KEY_ID', async () => {
    const got = await withAwsEnv({ ...kKeys, AWS_REGION: 'ap-southeast-2' }, async () => await send({ endpoint: rec.url }))
    expect(got.map(r => [r.region, r.accessKeyId])).toEqual([['ap-southeast-2', 'AKIDENVTEST']])
  })

  it('region and credentials given in the options win', async () => {
    const got = await withAwsEnv({ ...kKeys, AWS_REGION: 'ap-southeast-2' },
      async () => await send({ endpoint: rec.url, region: 'sa-east-1', credentials: { accessKeyId: 'AKIDOPTIONTEST', secretAccessKey: 's' } }))
    expect(got.map(r => [r.region, r.accessKeyId])).toEqual([['sa-east-1', 'AKIDOPTIONTEST']])
  })
})

describe('deliberate override: one SDK attempt per request (the publisher retries)', () => {
  it('AWS_MAX_ATTEMPTS and max_attempts in the profile are not used: a failing request is sent once', async () => {
    rec.failWith(500)
    const err = await withAwsEnv(async home => ({
      AWS_REGION: 'us-east-1',
      AWS_MAX_ATTEMPTS: '5',
      AWS_PROFILE: 'retries',
      AWS_CONFIG_FILE: await home.file('config', `[profile retries]\n${kProfileKeys}max_attempts = 7\nretry_mode = adaptive\n`),
    }), async () => await send({ endpoint: rec.url }).then(() => undefined, (e: unknown) => e as SinkError))
    expect(err?.retryable).toBe(true)   // minutely's own publisher retries it, with backoff
    expect(rec.requests.map(r => r.maxAttempts)).toEqual([1])
  })
})

describe('CloudWatch Logs: the same chain', () => {
  async function ship (options: Parameters<typeof cloudWatchLogsSink>[0] = {}): Promise<RecordingAwsEndpoint['requests']> {
    const sink = cloudWatchLogsSink(options)
    try {
      const ref = { group: '/aws/sagemaker/Endpoints/conventions', stream: 'AllTraffic/i-0/model' }
      await sink.ensureStream!(ref)
      await sink.put(ref, [{ timestamp: Date.now(), message: 'model server ready' }])
    } finally { await sink.close?.() }
    return rec.requests
  }

  it('AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', async () => {
    const got = await withAwsEnv({ ...kKeys, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: rec.url }, async () => await ship())
    expect(got.map(r => [r.operation, r.service])).toEqual([['CreateLogStream', 'logs'], ['PutLogEvents', 'logs']])
  })

  it('endpoint_url and region in the profile, credentials from AWS_SHARED_CREDENTIALS_FILE', async () => {
    const got = await withAwsEnv(async home => ({
      AWS_PROFILE: 'team',
      AWS_CONFIG_FILE: await home.file('config', `[profile team]\nregion = eu-central-1\nendpoint_url = ${rec.url}\n`),
      AWS_SHARED_CREDENTIALS_FILE: await home.file('credentials', '[team]\naws_access_key_id = AKIDLOGSPROFILE\naws_secret_access_key = s\n'),
    }), async () => await ship())
    expect(got.map(r => [r.operation, r.region, r.accessKeyId])).toEqual([['CreateLogStream', 'eu-central-1', 'AKIDLOGSPROFILE'], ['PutLogEvents', 'eu-central-1', 'AKIDLOGSPROFILE']])
  })

  it('AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true ignores them', async () => {
    const err = await withAwsEnv({ ...kKeys, AWS_REGION: kNowhere, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: rec.url, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' },
      async () => await ship().then(() => undefined, (e: unknown) => e as Error))
    expect(rec.requests).toEqual([])
    expect(err?.message).toContain(`logs.${kNowhere}.amazonaws.com`)
  })

  it('an endpoint given in the options wins; one SDK attempt despite AWS_MAX_ATTEMPTS', async () => {
    const got = await withAwsEnv({ ...kKeys, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '4' },
      async () => await ship({ endpoint: rec.url }))
    expect(got.map(r => [r.operation, r.maxAttempts])).toEqual([['CreateLogStream', 1], ['PutLogEvents', 1]])
  })
})

// -------------------------------------------------------------------------------------------

const kEnvOnlyNames = Array.from({ length: 150 }, (_, i) => `EnvOnlyMetric${i}`)
const kMain = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/main.js')

describe('the sidecar CLI leaves the chain to the SDK', () => {
  const peer = useMoto()

  it('no --cloudwatch-endpoint, no --no-compression: AWS_ENDPOINT_URL_CLOUDWATCH and AWS_DISABLE_REQUEST_COMPRESSION reach moto (which cannot read gzip)', async () => {
    if (!existsSync(kMain)) throw new Error(`${kMain} is missing: run \`npm run build\` first (npm test does)`)
    const ns = 'Minutely/CliEnvOnly'
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDCLIENVTEST',
      AWS_SECRET_ACCESS_KEY: 'cli-env-secret',
      AWS_ENDPOINT_URL_CLOUDWATCH: peer.moto.endpoint,
      AWS_DISABLE_REQUEST_COMPRESSION: 'true',
      MINUTELY_STATSD_PORT: 'off',
      MINUTELY_EMF_PORT: 'off',
    }
    const child = spawn(process.execPath, [kMain, 'sidecar', '--http-port', '0', '--sink', 'cloudwatch', '--namespace', ns], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    const closed = new Promise<number | null>(resolve => { child.on('close', code => { resolve(code) }) })
    try {
      const base = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString()
          const m = /HTTP ingest on (http:\/\/127\.0\.0\.1:\d+)\/v1\/samples/.exec(stderr)
          if (m !== null) resolve(m[1])
        })
        void closed.then(code => { reject(new Error(`sidecar exited ${String(code)} before listening:\n${stderr}`)) })
      })
      // 150 series: one PutMetricData body well over the 10 KB compression threshold.
      const samples = kEnvOnlyNames.map((metric, i) => ({ metric, value: i + 0.5, unit: 'Milliseconds', dimensions: { EndpointName: 'env-only' } }))
      const status = await new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ samples })
        const req = http.request(`${base}/v1/samples`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, res => { res.resume(); resolve(res.statusCode ?? 0) })
        req.on('error', reject)
        req.end(body)
      })
      expect(status).toBe(200)
    } finally {
      child.kill('SIGTERM')
    }
    const code = await closed
    expect(stderr).toMatch(/closed: 150 samples accepted, 0 rejected, 150 datums published/)
    expect(code).toBe(0)
    const listed = await peer.cw.send(new ListMetricsCommand({ Namespace: ns }))
    expect(new Set(listed.Metrics?.map(m => m.MetricName))).toEqual(new Set(kEnvOnlyNames))
  })
})

/**
 * Proves the strict CloudWatch endpoint with the REAL @aws-sdk/client-cloudwatch over loopback:
 * a valid request is accepted and recorded faithfully, each PutMetricData limit is
 * enforced with the error name the SDK raises, gzip bodies are decoded, and every fault kind
 * behaves (with the SDK's own retries visible in the endpoint's request log).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  GetMetricStatisticsCommand,
  PutMetricDataCommand,
  type CloudWatchClient,
  type MetricDatum,
  type PutMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch'
import * as documented from '../helpers/strict-endpoint.js'
import {
  cloudWatchClientForStrict,
  kSdkErrorName,
  startStrictEndpoint,
  validatePutMetricData,
  type StrictEndpoint,
  type StrictErrorCode,
} from '../helpers/strict-endpoint.js'
import * as product from '../../src/limits.js'
import {
  kDefaultMaxDimensions,
  kMaxDatumsPerRequest,
  kMaxDimensionNameLength,
  kMaxDimensionValueLength,
  kMaxFutureMs,
  kMaxMagnitude,
  kMaxMetricNameLength,
  kMaxNamespaceLength,
  kMaxPastMs,
  kMaxRequestBytes,
  kMaxValuesPerDatum,
  kMinMagnitude,
  kStandardUnits,
} from '../../src/limits.js'

/** The endpoint's injected clock: a fixed instant, so timestamp rules are exact. */
const kNow = Date.UTC(2030, 0, 15, 12, 0, 0)
const kMinute = new Date(kNow - 60_000)
const kNamespace = '/aws/sagemaker/Endpoints' // the seed's namespace shape: allowed (only AWS/ is reserved)

function validDatum (): MetricDatum {
  return {
    MetricName: 'ModelLatency',
    Dimensions: [{ Name: 'EndpointName', Value: 'my-endpoint' }, { Name: 'VariantName', Value: 'AllTraffic' }],
    Timestamp: kMinute,
    Unit: 'Microseconds',
    StorageResolution: 60,
    StatisticValues: { SampleCount: 6, Sum: 14, Minimum: 1, Maximum: 3 },
    Values: [1, 2, 3],
    Counts: [1, 2, 3],
  }
}

function input (datums: MetricDatum[], namespace: string | null = kNamespace): PutMetricDataCommandInput {
  return { Namespace: namespace ?? undefined, MetricData: datums } as PutMetricDataCommandInput
}

/** Casts for payloads the SDK types forbid but the SDK happily sends. */
function raw (d: Record<string, unknown>): MetricDatum {
  return d as unknown as MetricDatum
}

function dims (n: number): Array<{ Name: string, Value: string }> {
  return Array.from({ length: n }, (_, i) => ({ Name: `d${i}`, Value: `v${i}` }))
}

async function sendErr (client: CloudWatchClient, cmd: PutMetricDataCommandInput): Promise<Error & Record<string, any>> {
  try {
    await client.send(new PutMetricDataCommand(cmd))
  } catch (err) {
    return err as Error & Record<string, any>
  }
  throw new Error('expected the request to fail, but it was accepted')
}

let ep: StrictEndpoint
let client: CloudWatchClient

beforeAll(async () => {
  ep = await startStrictEndpoint({ now: () => kNow, maxDimensions: kDefaultMaxDimensions })
  client = cloudWatchClientForStrict(ep, { maxAttempts: 1 })
})

afterAll(async () => {
  client?.destroy()
  await ep?.close()
})

beforeEach(async () => {
  if (ep.refusing) await ep.resume()
  ep.reset()
  ep.latencyMs = 0
})

describe('the limits', () => {
  // The endpoint states CloudWatch's limits from the AWS documentation; src/limits.ts states
  // them for the product. Written twice on purpose, so that one wrong copy shows here.
  it('the endpoint\'s, from the AWS documentation, are the product\'s (src/limits.ts)', () => {
    const names = ['kMaxDatumsPerRequest', 'kMaxRequestBytes', 'kMaxValuesPerDatum', 'kCloudWatchMaxDimensions', 'kMaxMagnitude', 'kMinMagnitude',
      'kMaxPastMs', 'kMaxFutureMs', 'kMaxNamespaceLength', 'kMaxMetricNameLength', 'kMaxDimensionNameLength', 'kMaxDimensionValueLength'] as const
    for (const name of names) expect(product[name], name).toBe(documented[name])
    expect([...product.kStandardUnits]).toEqual(documented.kStandardUnits)
    expect(product.kDefaultMaxDimensions).toBeLessThanOrEqual(documented.kCloudWatchMaxDimensions)
  })
})

describe('valid requests', () => {
  it('accepts a valid request and records exactly what the SDK sent', async () => {
    const datums: MetricDatum[] = [
      validDatum(),
      { MetricName: 'Invocations', Dimensions: validDatum().Dimensions, Timestamp: kMinute, Unit: 'Count', Value: 0 },
      { MetricName: 'CPUUtilization', Dimensions: [{ Name: 'Host', Value: 'ep/AllTraffic/i-0123' }], Timestamp: kMinute, Unit: 'Percent', Values: [12.5, 380], Counts: [3, 1] },
      { MetricName: 'Hi', Value: 1, StorageResolution: 1 }, // no timestamp: CloudWatch uses receive time
    ]
    const out = await client.send(new PutMetricDataCommand(input(datums)))
    expect(out.$metadata.httpStatusCode).toBe(200)
    expect(ep.stats.requests).toBe(1)
    expect(ep.stats.accepted).toBe(1)
    expect(ep.stats.datums).toBe(4)
    const a = ep.accepted[0]
    expect(a.namespace).toBe(kNamespace)
    expect(a.gzipped).toBe(false)
    expect(a.attempt).toBe(1)
    expect(a.receivedAt).toBe(kNow)
    expect(a.bytes).toBe(a.decodedBytes)
    expect(a.datums).toEqual(datums)
    expect(ep.allDatums(kNamespace)).toEqual(datums)
    expect(ep.allDatums('Other')).toEqual([])
  })

  it('accepts the boundaries of every limit', async () => {
    const longName = 'n'.repeat(kMaxMetricNameLength)
    const datums: MetricDatum[] = [
      { MetricName: longName, Timestamp: new Date(kNow - kMaxPastMs + 1000), Value: kMaxMagnitude },
      { MetricName: 'm', Timestamp: new Date(kNow + kMaxFutureMs - 1000), Value: -kMinMagnitude },
      { MetricName: 'm', Dimensions: dims(kDefaultMaxDimensions), Value: 1 },
      {
        MetricName: 'm',
        Dimensions: [{ Name: 'N'.repeat(kMaxDimensionNameLength), Value: 'V'.repeat(kMaxDimensionValueLength) }],
        Values: Array.from({ length: kMaxValuesPerDatum }, (_, i) => i),
        Counts: Array.from({ length: kMaxValuesPerDatum }, () => 0),
      },
      { MetricName: 'm', StatisticValues: { SampleCount: 3, Sum: 0.3, Minimum: 0.1, Maximum: 0.1 } }, // avg 0.1 + rounding
      ...kStandardUnits.map(u => ({ MetricName: 'unit', Unit: u, Value: 1 })),
    ]
    await client.send(new PutMetricDataCommand(input(datums, 'N'.repeat(kMaxNamespaceLength))))
    await client.send(new PutMetricDataCommand(input([{ MetricName: 'x', Value: 1 }], 'a-Z_0.9/#: x')))
    await client.send(new PutMetricDataCommand(input(Array.from({ length: kMaxDatumsPerRequest }, (_, i) => ({ MetricName: `m${i}`, Value: i })))))
    expect(ep.rejected).toEqual([])
    expect(ep.stats.accepted).toBe(3)
    // The 1000-datum body is > 10 KB: the SDK gzipped it, the endpoint decoded it.
    expect(ep.accepted[2].gzipped).toBe(true)
    expect(ep.accepted[2].datums).toHaveLength(kMaxDatumsPerRequest)
  })
})

describe('each rule, violated once, gives the error CloudWatch gives', () => {
  interface Case { rule: string, cmd: () => PutMetricDataCommandInput, code: StrictErrorCode, message: RegExp }
  const one = (d: Record<string, unknown>): PutMetricDataCommandInput => input([raw({ MetricName: 'm', Timestamp: kMinute, ...d })])
  const cases: Case[] = [
    { rule: 'more than 1000 datums', cmd: () => input(Array.from({ length: kMaxDatumsPerRequest + 1 }, () => ({ MetricName: 'm', Value: 1 }))), code: 'InvalidParameterValue', message: /MetricData must not have a size greater than 1000/ },
    { rule: 'empty MetricData', cmd: () => input([]), code: 'MissingParameter', message: /MetricData is required/ },
    // Namespace
    { rule: 'Namespace missing', cmd: () => input([{ MetricName: 'm', Value: 1 }], null), code: 'MissingParameter', message: /Namespace is required/ },
    { rule: 'Namespace empty', cmd: () => input([{ MetricName: 'm', Value: 1 }], ''), code: 'InvalidParameterValue', message: /Namespace/ },
    { rule: 'Namespace too long', cmd: () => input([{ MetricName: 'm', Value: 1 }], 'N'.repeat(kMaxNamespaceLength + 1)), code: 'InvalidParameterValue', message: /Namespace/ },
    { rule: 'Namespace bad characters', cmd: () => input([{ MetricName: 'm', Value: 1 }], 'My!Namespace'), code: 'InvalidParameterValue', message: /Namespace/ },
    { rule: 'Namespace non-ASCII', cmd: () => input([{ MetricName: 'm', Value: 1 }], 'Métriques'), code: 'InvalidParameterValue', message: /Namespace/ },
    { rule: 'Namespace AWS/ reserved', cmd: () => input([{ MetricName: 'm', Value: 1 }], 'AWS/SageMaker'), code: 'InvalidParameterValue', message: /reserved/ },
    { rule: 'Namespace starts with :', cmd: () => input([{ MetricName: 'm', Value: 1 }], ':ns'), code: 'InvalidParameterValue', message: /Namespace/ },
    { rule: 'Namespace blank', cmd: () => input([{ MetricName: 'm', Value: 1 }], '   '), code: 'InvalidParameterValue', message: /blank/ },
    // MetricName
    { rule: 'MetricName missing', cmd: () => input([raw({ Value: 1 })]), code: 'MissingParameter', message: /MetricData\.member\.1\.MetricName is required/ },
    { rule: 'MetricName empty', cmd: () => one({ MetricName: '', Value: 1 }), code: 'InvalidParameterValue', message: /MetricName/ },
    { rule: 'MetricName too long', cmd: () => one({ MetricName: 'm'.repeat(kMaxMetricNameLength + 1), Value: 1 }), code: 'InvalidParameterValue', message: /MetricName/ },
    // Dimensions
    { rule: 'too many dimensions', cmd: () => one({ Value: 1, Dimensions: dims(kDefaultMaxDimensions + 1) }), code: 'InvalidParameterValue', message: /Dimensions must not have a size greater than 10/ },
    { rule: 'dimension name empty', cmd: () => one({ Value: 1, Dimensions: [{ Name: '', Value: 'v' }] }), code: 'InvalidParameterValue', message: /Dimensions\.member\.1\.Name/ },
    { rule: 'dimension name too long', cmd: () => one({ Value: 1, Dimensions: [{ Name: 'n'.repeat(kMaxDimensionNameLength + 1), Value: 'v' }] }), code: 'InvalidParameterValue', message: /Name/ },
    { rule: 'dimension value empty', cmd: () => one({ Value: 1, Dimensions: [{ Name: 'n', Value: '' }] }), code: 'InvalidParameterValue', message: /Dimensions\.member\.1\.Value/ },
    { rule: 'dimension value too long', cmd: () => one({ Value: 1, Dimensions: [{ Name: 'n', Value: 'v'.repeat(kMaxDimensionValueLength + 1) }] }), code: 'InvalidParameterValue', message: /Value/ },
    { rule: 'dimension value non-ASCII', cmd: () => one({ Value: 1, Dimensions: [{ Name: 'n', Value: 'café' }] }), code: 'InvalidParameterValue', message: /ASCII/ },
    { rule: 'dimension name control char', cmd: () => one({ Value: 1, Dimensions: [{ Name: 'a\tb', Value: 'v' }] }), code: 'InvalidParameterValue', message: /ASCII/ },
    { rule: 'dimension value newline', cmd: () => one({ Value: 1, Dimensions: [{ Name: 'n', Value: 'a\nb' }] }), code: 'InvalidParameterValue', message: /ASCII/ },
    { rule: 'dimension name blank', cmd: () => one({ Value: 1, Dimensions: [{ Name: '  ', Value: 'v' }] }), code: 'InvalidParameterValue', message: /blank/ },
    { rule: 'dimension value blank', cmd: () => one({ Value: 1, Dimensions: [{ Name: 'n', Value: ' ' }] }), code: 'InvalidParameterValue', message: /blank/ },
    { rule: 'dimension name starts with :', cmd: () => one({ Value: 1, Dimensions: [{ Name: ':n', Value: 'v' }] }), code: 'InvalidParameterValue', message: /must not start with ':'/ },
    { rule: 'duplicate dimension names', cmd: () => one({ Value: 1, Dimensions: [{ Name: 'Host', Value: 'a' }, { Name: 'Host', Value: 'b' }] }), code: 'InvalidParameterValue', message: /more than once/ },
    { rule: 'dimension value missing', cmd: () => one({ Value: 1, Dimensions: [{ Name: 'n' }] }), code: 'MissingParameter', message: /Dimensions\.member\.1\.Value is required/ },
    // Values and combinations
    { rule: 'no Value, Values or StatisticValues', cmd: () => one({}), code: 'MissingParameter', message: /Value is required/ },
    { rule: 'Value with StatisticValues', cmd: () => one({ Value: 1, StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 } }), code: 'InvalidParameterCombination', message: /Value and MetricData\.member\.1\.StatisticValues are mutually exclusive/ },
    { rule: 'Value with Values', cmd: () => one({ Value: 1, Values: [1] }), code: 'InvalidParameterCombination', message: /mutually exclusive/ },
    { rule: 'Counts without Values', cmd: () => one({ Value: 1, Counts: [1] }), code: 'InvalidParameterCombination', message: /Counts requires/ },
    { rule: 'Value NaN', cmd: () => one({ Value: NaN }), code: 'InvalidParameterValue', message: /The value NaN for parameter MetricData\.member\.1\.Value is invalid/ },
    { rule: 'Value Infinity', cmd: () => one({ Value: Infinity }), code: 'InvalidParameterValue', message: /Infinity/ },
    { rule: 'Value -Infinity', cmd: () => one({ Value: -Infinity }), code: 'InvalidParameterValue', message: /-Infinity/ },
    { rule: 'Value above 2^360', cmd: () => one({ Value: 2 ** 361 }), code: 'InvalidParameterValue', message: /2\^360/ },
    { rule: 'Value below -2^360', cmd: () => one({ Value: -(2 ** 361) }), code: 'InvalidParameterValue', message: /2\^360/ },
    { rule: 'Value tiny non-zero', cmd: () => one({ Value: 2 ** -361 }), code: 'InvalidParameterValue', message: /2\^-360/ },
    { rule: 'Values longer than 150', cmd: () => one({ Values: Array.from({ length: kMaxValuesPerDatum + 1 }, (_, i) => i) }), code: 'InvalidParameterValue', message: /Values must not have a size greater than 150/ },
    { rule: 'Counts longer than 150', cmd: () => one({ Values: [1], Counts: Array.from({ length: kMaxValuesPerDatum + 1 }, () => 1) }), code: 'InvalidParameterValue', message: /Counts must not have a size greater than 150/ },
    { rule: 'Values/Counts lengths differ', cmd: () => one({ Values: [1, 2], Counts: [1] }), code: 'InvalidParameterValue', message: /must be of the same size/ },
    { rule: 'Values empty', cmd: () => one({ Values: [] }), code: 'InvalidParameterValue', message: /must not be empty/ },
    { rule: 'Values with NaN', cmd: () => one({ Values: [1, NaN], Counts: [1, 1] }), code: 'InvalidParameterValue', message: /Values\.member\.2/ },
    { rule: 'Values with Infinity', cmd: () => one({ Values: [Infinity] }), code: 'InvalidParameterValue', message: /Values\.member\.1/ },
    { rule: 'Values out of range', cmd: () => one({ Values: [2 ** 400] }), code: 'InvalidParameterValue', message: /2\^360/ },
    { rule: 'Values listing a value twice', cmd: () => one({ Values: [5, 5], Counts: [1, 2] }), code: 'InvalidParameterValue', message: /more than once/ },
    { rule: 'negative Count', cmd: () => one({ Values: [1, 2], Counts: [1, -1] }), code: 'InvalidParameterValue', message: /Counts\.member\.2.*negative/ },
    { rule: 'Count NaN', cmd: () => one({ Values: [1], Counts: [NaN] }), code: 'InvalidParameterValue', message: /Counts\.member\.1/ },
    // StatisticValues
    { rule: 'StatisticValues without Maximum', cmd: () => one({ StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1 } }), code: 'MissingParameter', message: /StatisticValues\.Maximum is required/ },
    { rule: 'StatisticValues without SampleCount', cmd: () => one({ StatisticValues: { Sum: 1, Minimum: 1, Maximum: 1 } }), code: 'MissingParameter', message: /StatisticValues\.SampleCount is required/ },
    { rule: 'SampleCount 0', cmd: () => one({ StatisticValues: { SampleCount: 0, Sum: 0, Minimum: 0, Maximum: 0 } }), code: 'InvalidParameterValue', message: /SampleCount/ },
    { rule: 'Minimum above Maximum', cmd: () => one({ StatisticValues: { SampleCount: 2, Sum: 6, Minimum: 4, Maximum: 2 } }), code: 'InvalidParameterValue', message: /Minimum must not exceed Maximum/ },
    { rule: 'average above Maximum', cmd: () => one({ StatisticValues: { SampleCount: 2, Sum: 100, Minimum: 1, Maximum: 3 } }), code: 'InvalidParameterValue', message: /Sum\/SampleCount/ },
    { rule: 'average below Minimum', cmd: () => one({ StatisticValues: { SampleCount: 10, Sum: 1, Minimum: 1, Maximum: 3 } }), code: 'InvalidParameterValue', message: /Sum\/SampleCount/ },
    { rule: 'Sum Infinity', cmd: () => one({ StatisticValues: { SampleCount: 1, Sum: Infinity, Minimum: 1, Maximum: 1 } }), code: 'InvalidParameterValue', message: /StatisticValues\.Sum/ },
    // Timestamp, StorageResolution, Unit
    { rule: 'Timestamp more than 2 weeks old', cmd: () => one({ Value: 1, Timestamp: new Date(kNow - kMaxPastMs - 1000) }), code: 'InvalidParameterValue', message: /two weeks in the past/ },
    { rule: 'Timestamp more than 2 hours ahead', cmd: () => one({ Value: 1, Timestamp: new Date(kNow + kMaxFutureMs + 1000) }), code: 'InvalidParameterValue', message: /two hours in the future/ },
    { rule: 'StorageResolution 5', cmd: () => one({ Value: 1, StorageResolution: 5 }), code: 'InvalidParameterValue', message: /StorageResolution/ },
    { rule: 'StorageResolution 0', cmd: () => one({ Value: 1, StorageResolution: 0 }), code: 'InvalidParameterValue', message: /StorageResolution/ },
    { rule: 'Unit not a StandardUnit', cmd: () => one({ Value: 1, Unit: 'Microsecond' }), code: 'InvalidParameterValue', message: /Unit is invalid/ },
    { rule: 'Unit wrong case', cmd: () => one({ Value: 1, Unit: 'count' }), code: 'InvalidParameterValue', message: /Unit is invalid/ },
  ]

  it.each(cases)('$rule -> $code', async ({ cmd, code, message }) => {
    const err = await sendErr(client, cmd())
    expect(err.name).toBe(kSdkErrorName[code])
    expect(err.message).toMatch(message)
    expect(err.$metadata.httpStatusCode).toBe(400)
    expect(err.$metadata.attempts).toBe(1)
    expect(err.Code).toBe(code) // query-compatible code, from x-amzn-query-error
    expect(ep.stats.accepted).toBe(0)
    expect(ep.rejected).toHaveLength(1)
    expect(ep.rejected[0].code).toBe(code)
    expect(ep.rejected[0].message).toBe(err.message)
  })

  it('names the offending member by its position', async () => {
    const err = await sendErr(client, input([{ MetricName: 'ok', Value: 1 }, { MetricName: 'ok', Value: 2 }, raw({ MetricName: 'bad', Value: 1, Unit: 'Bogus' })]))
    expect(err.message).toBe('The value Bogus for parameter MetricData.member.3.Unit is invalid.')
  })

  it('rejects a request over 1 MB with HTTP 413 RequestEntityTooLarge, gzipped or not', async () => {
    // ~1.2 MB of JSON: 120 datums with 10 dimensions of 1,000 characters each.
    const big = Array.from({ length: 120 }, (_, i) => ({
      MetricName: `m${i}`,
      Value: i,
      Dimensions: Array.from({ length: 10 }, (_, j) => ({ Name: `d${j}`, Value: String(j).repeat(1000) })),
    }))
    const plain = cloudWatchClientForStrict(ep, { maxAttempts: 1, disableRequestCompression: true })
    try {
      for (const c of [client, plain]) {
        const err = await sendErr(c, input(big))
        expect(err.name).toBe('RequestEntityTooLarge')
        expect(err.$metadata.httpStatusCode).toBe(413)
        expect(err.message).toMatch(String(kMaxRequestBytes))
      }
    } finally {
      plain.destroy()
    }
    expect(ep.log.map(l => l.gzipped)).toEqual([true, false])
    expect(ep.log.map(l => l.status)).toEqual([413, 413])
    expect(ep.log[0].bytes).toBeLessThan(kMaxRequestBytes) // small on the wire, too big decoded
    expect(ep.stats.accepted).toBe(0)
  })

  it('serves only PutMetricData', async () => {
    const err = await client.send(new GetMetricStatisticsCommand({
      Namespace: kNamespace, MetricName: 'm', StartTime: kMinute, EndTime: new Date(kNow), Period: 60, Statistics: ['Sum'],
    })).catch((e: Error) => e)
    expect((err as Error).name).toBe('UnknownOperationException')
    expect(ep.rejected[0].code).toBe('UnknownOperationException')
  })

  it('exposes the same rules without a socket (validatePutMetricData)', () => {
    const wire = { Namespace: 'ns', MetricData: [{ MetricName: 'm', Timestamp: kMinute.getTime() / 1000, Value: 'NaN' }] }
    expect(validatePutMetricData(wire, { now: kNow })).toMatchObject({ ok: false, code: 'InvalidParameterValue' })
    wire.MetricData[0].Value = 3 as unknown as string
    expect(validatePutMetricData(wire, { now: kNow })).toEqual({ ok: true, namespace: 'ns', datums: [{ MetricName: 'm', Timestamp: kMinute, Value: 3 }] })
    expect(validatePutMetricData({ Namespace: 'ns', MetricData: [{ MetricName: 'm', Value: 1, Dimensions: dims(30) }] }, { now: kNow }).ok).toBe(true)
    expect(validatePutMetricData({ Namespace: 'ns', MetricData: [{ MetricName: 'm', Value: 1, Dimensions: dims(31) }] }, { now: kNow }).ok).toBe(false)
    expect(validatePutMetricData({ Namespace: 'ns', MetricData: [{ MetricName: 'm', Values: [1, 1] }] }, { now: kNow, uniqueValues: false }).ok).toBe(true)
  })
})

describe('gzip', () => {
  it('decodes a >10 KB body that the SDK gzipped', async () => {
    const datums: MetricDatum[] = Array.from({ length: 200 }, (_, i) => ({
      ...validDatum(),
      MetricName: `ContainerLatency${i}`,
      Dimensions: [...validDatum().Dimensions!, { Name: 'ContainerName', Value: `container-${i}` }],
    }))
    await client.send(new PutMetricDataCommand(input(datums)))
    const a = ep.accepted[0]
    expect(a.gzipped).toBe(true)
    expect(a.decodedBytes).toBeGreaterThanOrEqual(10_240)
    expect(a.bytes).toBeLessThan(a.decodedBytes)
    expect(a.datums).toEqual(datums)
  })

  it('a body under 10,240 bytes is sent plain', async () => {
    await client.send(new PutMetricDataCommand(input([validDatum()])))
    expect(ep.accepted[0].gzipped).toBe(false)
  })
})

describe('faults', () => {
  /** Retries without backoff delay: the SDK's own ConfiguredRetryStrategy, 3 attempts. */
  let retrying: CloudWatchClient
  beforeAll(() => { retrying = cloudWatchClientForStrict(ep, { maxAttempts: 3, retryDelayMs: 0 }) })
  afterAll(() => retrying?.destroy())

  const put = (c: CloudWatchClient, name = 'm') => c.send(new PutMetricDataCommand(input([{ ...validDatum(), MetricName: name }])))

  it.each([
    { fault: 'throttle' as const, name: 'Throttling', status: 400, message: 'Rate exceeded' },
    { fault: '500' as const, name: 'InternalServiceFault', status: 500, message: /Internal service error/ },
    { fault: '503' as const, name: 'ServiceUnavailable', status: 503, message: /Service Unavailable/ },
  ])('$fault: answered as CloudWatch does, retried by the SDK', async ({ fault, name, status, message }) => {
    // Once: the SDK retries and succeeds; the endpoint saw both attempts of one invocation.
    ep.inject(fault)
    const out = await put(retrying)
    expect(out.$metadata.attempts).toBe(2)
    expect(ep.stats.requests).toBe(2)
    expect(ep.stats.faults[fault]).toBe(1)
    expect(ep.log.map(l => [l.fault, l.status, l.attempt])).toEqual([[fault, status, 1], [undefined, 200, 2]])
    expect(ep.log[0].invocationId).toBe(ep.log[1].invocationId)
    expect(ep.accepted).toHaveLength(1)
    expect(ep.accepted[0].attempt).toBe(2)

    // Always: the SDK gives up after 3 attempts with the typed error; nothing accepted.
    ep.reset()
    ep.inject(fault, { times: Infinity })
    const err = await sendErr(retrying, input([{ ...validDatum(), MetricName: 'm' }]))
    expect(err.name).toBe(name)
    expect(err.message).toMatch(message)
    expect(err.$metadata.httpStatusCode).toBe(status)
    expect(err.$metadata.attempts).toBe(3)
    expect(ep.stats.requests).toBe(3)
    expect(ep.stats.accepted).toBe(0)
    expect(ep.accepted).toEqual([])
  })

  it('the SDK default retry strategy (jittered backoff) retries a 503 too', async () => {
    const defaults = cloudWatchClientForStrict(ep)
    try {
      ep.inject('503')
      const out = await put(defaults)
      expect(out.$metadata.attempts).toBe(2)
      expect(ep.log.map(l => l.status)).toEqual([503, 200])
    } finally {
      defaults.destroy()
    }
  })

  it('a 4xx validation error is not retried', async () => {
    const err = await sendErr(retrying, input([raw({ MetricName: 'm', Value: NaN })]))
    expect(err.name).toBe('InvalidParameterValueException')
    expect(err.$metadata.attempts).toBe(1)
    expect(ep.stats.requests).toBe(1)
  })

  it('nextFaults queues faults for the next requests, in order', async () => {
    ep.nextFaults('503', 'throttle')
    const out = await put(retrying)
    expect(out.$metadata.attempts).toBe(3)
    expect(ep.log.map(l => l.fault)).toEqual(['503', 'throttle', undefined])
    expect(ep.stats.faulted).toBe(2)
    expect(ep.stats.accepted).toBe(1)
  })

  it('every: n faults every n-th request', async () => {
    const h = ep.inject('throttle', { every: 2 })
    const outcomes: string[] = []
    for (let i = 0; i < 6; i++) outcomes.push(await put(client).then(() => 'ok', (e: Error) => e.name))
    expect(outcomes).toEqual(['ok', 'Throttling', 'ok', 'Throttling', 'ok', 'Throttling'])
    expect(h.hits).toBe(3)
    h.remove()
    await put(client)
    expect(ep.stats.accepted).toBe(4)
  })

  it('probability faults replay identically for the same seed', async () => {
    const run = async (): Promise<string[]> => {
      const other = await startStrictEndpoint({ now: () => kNow, seed: 42 })
      const c = cloudWatchClientForStrict(other, { maxAttempts: 1 })
      try {
        other.inject('500', { probability: 0.5 })
        const out: string[] = []
        for (let i = 0; i < 20; i++) out.push(await put(c).then(() => 'ok', (e: Error) => e.name))
        expect(other.stats.accepted + other.stats.faulted).toBe(20)
        return out
      } finally {
        c.destroy()
        await other.close()
      }
    }
    const a = await run()
    const b = await run()
    expect(a).toEqual(b)
    const faulted = a.filter(x => x !== 'ok').length
    expect(faulted).toBeGreaterThan(0)
    expect(faulted).toBeLessThan(20)
    expect(new Set(a)).toEqual(new Set(['ok', 'InternalServiceFault']))
  })

  it('timeout: the request is held until the client gives up; the retry succeeds', async () => {
    const impatient = cloudWatchClientForStrict(ep, { maxAttempts: 1, requestTimeoutMs: 100 })
    const patientRetry = cloudWatchClientForStrict(ep, { maxAttempts: 2, retryDelayMs: 0, requestTimeoutMs: 100 })
    try {
      ep.inject('timeout')
      const err = await put(impatient).catch((e: Error) => e)
      expect((err as Error).name).toBe('TimeoutError')
      expect(ep.stats.requests).toBe(1)
      expect(ep.log[0].status).toBeUndefined() // never answered
      expect(ep.stats.accepted).toBe(0)

      ep.reset()
      ep.inject('timeout')
      const out = await put(patientRetry)
      expect(out.$metadata.attempts).toBe(2)
      expect(ep.log.map(l => l.fault)).toEqual(['timeout', undefined])
      expect(ep.accepted).toHaveLength(1)
    } finally {
      impatient.destroy()
      patientRetry.destroy()
    }
  })

  it('acceptThenTimeout: CloudWatch took the data, the client timed out and sent it again', async () => {
    const c = cloudWatchClientForStrict(ep, { maxAttempts: 2, retryDelayMs: 0, requestTimeoutMs: 100 })
    try {
      ep.inject('acceptThenTimeout')
      const out = await put(c, 'Dup')
      expect(out.$metadata.attempts).toBe(2)
      expect(ep.accepted).toHaveLength(2)
      expect(ep.accepted[0].viaFault).toBe('acceptThenTimeout')
      expect(ep.accepted[1].viaFault).toBeUndefined()
      expect(ep.accepted[0].invocationId).toBe(ep.accepted[1].invocationId)
      expect(ep.accepted[0].datums).toEqual(ep.accepted[1].datums) // the duplicate a retry creates
      expect(ep.allDatums().map(d => d.MetricName)).toEqual(['Dup', 'Dup'])
    } finally {
      c.destroy()
    }
  })

  it('reset: the socket is destroyed mid-request; the SDK sees a network error and retries', async () => {
    ep.inject('reset')
    const err = await put(client).catch((e: Error & { code?: string }) => e)
    expect(['ECONNRESET', 'EPIPE']).toContain((err as { code?: string }).code)
    expect(ep.stats.faults.reset).toBe(1)
    expect(ep.stats.accepted).toBe(0)

    ep.reset()
    ep.inject('reset')
    const out = await put(retrying)
    expect(out.$metadata.attempts).toBe(2)
    expect(ep.log.map(l => l.fault)).toEqual(['reset', undefined])
    expect(ep.accepted).toHaveLength(1)
  })

  it('refuse/resume: connections are refused, then served again on the same port', async () => {
    const port = ep.port
    await put(client) // leave a keep-alive connection open: refuse() must drop it
    await ep.refuse()
    expect(ep.refusing).toBe(true)
    const err = await put(client).catch((e: Error & { code?: string }) => e)
    expect((err as { code?: string }).code).toBe('ECONNREFUSED')
    expect(ep.stats.requests).toBe(1) // a refused connection never reaches the endpoint
    await ep.resume()
    expect(ep.refusing).toBe(false)
    expect(ep.port).toBe(port)
    await put(client)
    expect(ep.stats.accepted).toBe(2)
  })

  it('latencyMs delays every answer', async () => {
    const c = cloudWatchClientForStrict(ep, { maxAttempts: 1, requestTimeoutMs: 50 })
    try {
      ep.latencyMs = 1000
      const err = await put(c).catch((e: Error) => e)
      expect((err as Error).name).toBe('TimeoutError')
      ep.latencyMs = 5
      await put(client)
      expect(ep.stats.accepted).toBe(2) // the first was accepted, its answer came too late
    } finally {
      c.destroy()
    }
  })

  it('waitFor resolves on the request that satisfies it, and times out clearly', async () => {
    const waiting = ep.waitFor(e => e.stats.accepted >= 2)
    void put(client, 'a')
    void put(client, 'b')
    await waiting
    expect(ep.allDatums().map(d => d.MetricName).sort()).toEqual(['a', 'b'])
    await expect(ep.waitFor(e => e.stats.accepted > 100, 20)).rejects.toThrow(/waitFor timed out/)
  })
})

import { describe, expect, it } from 'vitest'
import { parseStatsd, type StatsdParseOptions } from '../../../src/ingest/statsd.js'
import type { RejectReason } from '../../../src/samples/reasons.js'
import { RecordingReceiver, type RecordedSample } from '../../helpers/recording-receiver.js'

function parse (data: string | Uint8Array, options: StatsdParseOptions = {}): RecordingReceiver {
  const r = new RecordingReceiver()
  parseStatsd(data, r, options)
  return r
}

/** A sample with the defaults a plain line gets. */
function s (metric: string, value: number, unit: string | undefined, extra: Partial<RecordedSample> = {}): RecordedSample {
  return { metric, value, unit, dimensions: undefined, timestampMs: NaN, count: 1, namespace: undefined, ...extra }
}

describe('parseStatsd: accepted lines', () => {
  const cases: Array<[string, string, RecordedSample[], StatsdParseOptions?]> = [
    ['timer', 'latency:12|ms', [s('latency', 12, 'Milliseconds')]],
    ['histogram', 'size:4.5|h', [s('size', 4.5, 'None')]],
    ['distribution', 'dist:7|d', [s('dist', 7, 'None')]],
    ['counter', 'hits:3|c', [s('hits', 3, 'Count')]],
    ['negative counter (decrement)', 'hits:-1|c', [s('hits', -1, 'Count')]],
    ['gauge', 'cpu:73.25|g', [s('cpu', 73.25, 'None')]],
    ['negative gauge is absolute', 'temp:-5|g', [s('temp', -5, 'None')]],
    ['decimal without leading digit', 'x:.5|d', [s('x', 0.5, 'None')]],
    ['trailing dot', 'x:5.|d', [s('x', 5, 'None')]],
    ['exponent', 'x:1.5e3|d', [s('x', 1500, 'None')]],
    ['exponent with sign', 'x:2E-3|d', [s('x', 0.002, 'None')]],
    ['plus sign on a non-gauge', 'x:+4|c', [s('x', 4, 'Count')]],
    ['many digits go through Number()', 'x:0.30000000000000004|d', [s('x', 0.30000000000000004, 'None')]],
    ['negative zero', 'x:-0|d', [s('x', -0, 'None')]],
    ['multi-value', 'lat:1:2:3|d', [s('lat', 1, 'None'), s('lat', 2, 'None'), s('lat', 3, 'None')]],
    ['sample rate on a timer', 'lat:10|ms|@0.25', [s('lat', 10, 'Milliseconds', { count: 4 })]],
    ['sample rate on a counter', 'hits:1|c|@0.1', [s('hits', 1, 'Count', { count: 10 })]],
    ['sample rate of 1', 'hits:1|c|@1', [s('hits', 1, 'Count')]],
    ['sample rate on multi-value', 'lat:1:2|d|@0.5', [s('lat', 1, 'None', { count: 2 }), s('lat', 2, 'None', { count: 2 })]],
    ['tags', 'lat:5|ms|#EndpointName:ep,VariantName:v1',
      [s('lat', 5, 'Milliseconds', { dimensions: { EndpointName: 'ep', VariantName: 'v1' } })]],
    ['tag value with colons', 'lat:5|ms|#url:http://x:80/a',
      [s('lat', 5, 'Milliseconds', { dimensions: { url: 'http://x:80/a' } })]],
    ['bare tag is "true"', 'lat:5|ms|#canary', [s('lat', 5, 'Milliseconds', { dimensions: { canary: 'true' } })]],
    ['bare tag value configurable', 'lat:5|ms|#canary', [s('lat', 5, 'Milliseconds', { dimensions: { canary: 'yes' } })],
      { bareTagValue: 'yes' }],
    ['empty tag entries skipped', 'lat:5|ms|#a:1,,b:2,', [s('lat', 5, 'Milliseconds', { dimensions: { a: '1', b: '2' } })]],
    ['empty tags field', 'lat:5|ms|#', [s('lat', 5, 'Milliseconds')]],
    ['tags of only commas', 'lat:5|ms|#,,', [s('lat', 5, 'Milliseconds')]],
    ['empty tag value passed on for the receiver to judge', 'lat:5|ms|#a:', [s('lat', 5, 'Milliseconds', { dimensions: { a: '' } })]],
    ['__proto__ tag is an own dimension', 'x:1|c|#__proto__:p',
      [s('x', 1, 'Count', { dimensions: JSON.parse('{"__proto__":"p"}') as Record<string, string> })]],
    ['timestamp', 'x:1|g|T1700000000', [s('x', 1, 'None', { timestampMs: 1_700_000_000_000 })]],
    ['all fields, any order', 'x:2|ms|T1700000000|#k:v|@0.5',
      [s('x', 2, 'Milliseconds', { timestampMs: 1_700_000_000_000, dimensions: { k: 'v' }, count: 2 })]],
    ['container id field ignored', 'x:1|c|#k:v|c:abc123', [s('x', 1, 'Count', { dimensions: { k: 'v' } })]],
    ['external data and cardinality ignored', 'x:1|c|e:it-false,cn-app|card:low', [s('x', 1, 'Count')]],
    ['trailing empty field tolerated', 'x:1|c|', [s('x', 1, 'Count')]],
    ['unit map overrides the timer default', 'ModelLatency:1200|ms', [s('ModelLatency', 1200, 'Microseconds')],
      { units: { ModelLatency: 'Microseconds' } }],
    ['unit map as a Map', 'ModelLatency:1200|d', [s('ModelLatency', 1200, 'Microseconds')],
      { units: new Map([['ModelLatency', 'Microseconds']]) }],
    ['unit map does not see inherited names', 'constructor:1|d', [s('constructor', 1, 'None')], { units: { a: 'Bytes' } }],
    ['default units per type', 'x:1|c', [s('x', 1, undefined)], { defaultUnits: { c: undefined } }],
    ['default units per type (h)', 'x:1|h', [s('x', 1, 'Bytes')], { defaultUnits: { h: 'Bytes' } }],
    ['namespace', 'x:1|c', [s('x', 1, 'Count', { namespace: 'my/ns' })], { namespace: 'my/ns' }],
    ['unicode name', 'lätenz.µs:3|d', [s('lätenz.µs', 3, 'None')]],
    ['name with spaces, # and @', 'a b#c@d:1|c', [s('a b#c@d', 1, 'Count')]],
    ['name starting with _ that is not an event', '_internal:1|c', [s('_internal', 1, 'Count')]],
  ]
  for (const [title, line, expected, options] of cases) {
    it(title, () => {
      const r = parse(line, options)
      expect(r.rejects).toEqual([])
      expect(r.samples).toEqual(expected)
      // The same line as bytes gives the same result.
      const rb = parse(Buffer.from(line, 'utf8'), options)
      expect(rb.samples).toEqual(expected)
    })
  }
})

describe('parseStatsd: rejected lines', () => {
  const cases: Array<[string, string, RejectReason, RegExp, StatsdParseOptions?]> = [
    ['no colon', 'latency|ms', 'malformed', /no ":"/],
    ['no pipe', 'latency:12', 'malformed', /no "\|<type>"/],
    ['colon only after the pipe', 'latency|ms:1', 'malformed', /no ":"/],
    ['empty name', ':12|ms', 'metric_name_invalid', /name .* is empty/],
    ['empty value', 'x:|c', 'not_a_number', /value "" is not a number/],
    ['text value', 'x:abc|c', 'not_a_number', /value "abc"/],
    ['NaN', 'x:NaN|g', 'not_a_number', /"NaN"/],
    ['hex', 'x:0x10|g', 'not_a_number', /"0x10"/],
    ['space in value', 'x: 1|g', 'not_a_number', /" 1"/],
    ['Infinity', 'x:Infinity|d', 'not_finite', /not finite/],
    ['-inf', 'x:-inf|d', 'not_finite', /not finite/],
    ['overflow', 'x:1e400|d', 'not_finite', /"1e400"/],
    ['one bad value in a multi-value line', 'x:1:bad:3|d', 'not_a_number', /"bad"/],
    ['empty value in a multi-value line', 'x:1::3|d', 'not_a_number', /value ""/],
    ['gauge delta +', 'x:+5|g', 'unsupported_type', /gauge delta "\+5".*absolute/],
    ['gauge delta in multi-value', 'x:1:+5|g', 'unsupported_type', /gauge delta/],
    ['set', 'users:alice|s', 'unsupported_type', /sets \(\|s\)/],
    ['unknown type', 'x:1|kv', 'unsupported_type', /unknown metric type "kv"/],
    ['empty type', 'x:1||@0.5', 'unsupported_type', /unknown metric type ""/],
    ['event', '_e{5,4}:title|text|#a:b', 'unsupported_type', /events/],
    ['service check', '_sc|my.check|0|#a:b', 'unsupported_type', /service checks/],
    ['rate zero', 'x:1|c|@0', 'count_invalid', /sample rate "@0" must be in \(0, 1\]: got "0"/],
    ['rate above one', 'x:1|c|@1.5', 'count_invalid', /got "1.5"/],
    ['negative rate', 'x:1|c|@-0.5', 'count_invalid', /got "-0.5"/],
    ['empty rate', 'x:1|c|@', 'count_invalid', /got ""/],
    ['text rate', 'x:1|c|@abc', 'count_invalid', /got "abc"/],
    ['NaN rate', 'x:1|c|@NaN', 'count_invalid', /got "NaN"/],
    ['subnormal rate (weight would be Infinity)', 'x:1|c|@5e-324', 'count_invalid', /got "5e-324"/],
    ['two rates', 'x:1|c|@0.5|@0.5', 'malformed', /appears twice/],
    ['bad timestamp', 'x:1|c|Tsoon', 'timestamp_invalid', /"Tsoon".*unix seconds/],
    ['negative timestamp', 'x:1|c|T-5', 'timestamp_invalid', /unix seconds/],
    ['empty timestamp', 'x:1|c|T', 'timestamp_invalid', /unix seconds/],
    ['two timestamps', 'x:1|c|T1|T2', 'malformed', /appears twice/],
    ['two tag fields', 'x:1|c|#a:1|#b:2', 'malformed', /appears twice/],
    ['duplicate tag key', 'x:1|c|#a:1,a:2', 'dimension_invalid', /tag key "a" appears twice/],
    ['duplicate bare tag', 'x:1|c|#a,a', 'dimension_invalid', /appears twice/],
    ['bare tag when disabled', 'x:1|c|#canary', 'dimension_invalid', /tag "canary" has no value/, { bareTagValue: false }],
    ['unknown field', 'x:1|c|zzz', 'malformed', /unknown field "\|zzz"/],
    ['unknown field starting with a digit', 'x:1|c|9:1', 'malformed', /unknown field/],
    ['line too long', `x:1|c|#k:${'v'.repeat(100)}`, 'too_large', /over the limit of 50/, { maxLineLength: 50 }],
    ['whitespace-only line', '   ', 'malformed', /no ":"/],
  ]
  for (const [title, line, reason, message, options] of cases) {
    it(title, () => {
      const r = parse(line, options)
      expect(r.samples).toEqual([])
      expect(r.reasons()).toEqual([reason])
      expect(r.rejects[0].message).toMatch(/^statsd line 1: /)
      expect(r.rejects[0].message).toMatch(message)
    })
  }

  it('echoes at most ~80 characters of the input, escaped', () => {
    const r = parse(`x:${'9'.repeat(500)}\u0007|zz`)
    expect(r.reasons()).toEqual(['unsupported_type'])
    expect(r.rejects[0].message.length).toBeLessThan(260)
    expect(r.rejects[0].message).toContain('...')
    // Every quoted echo is cut (the rate message quotes the field, the rate and the line).
    const r2 = parse(`x:1|c|@${'1'.repeat(200)}`)
    for (const q of r2.rejects[0].message.match(/"(?:[^"\\]|\\.)*"/g) ?? []) expect(q.length).toBeLessThanOrEqual(82)
    const r3 = parse('x:\u0001|c')
    expect(r3.rejects[0].message).toContain('\\u0001')
  })
})

describe('parseStatsd: datagrams of several lines', () => {
  it('parses each line, with \\n, \\r\\n, blank lines and a trailing newline', () => {
    const r = parse('a:1|c\nb:2|ms\r\n\n\r\nc:3|g\n')
    expect(r.rejects).toEqual([])
    expect(r.samples.map(x => [x.metric, x.value])).toEqual([['a', 1], ['b', 2], ['c', 3]])
  })

  it('good lines around bad ones still arrive, and messages name the bad line', () => {
    const r = parse([
      'good1:1|c',
      'bad:abc|c',
      'good2:2|d|#k:v',
      'users:x|s',
      '_e{1,1}:a|b',
      'good3:3|ms|@0.5',
      'bad2:1|c|@0',
    ].join('\n'))
    expect(r.samples.map(x => x.metric)).toEqual(['good1', 'good2', 'good3'])
    expect(r.reasons()).toEqual(['not_a_number', 'unsupported_type', 'unsupported_type', 'count_invalid'])
    expect(r.rejects.map(x => /^statsd line (\d+):/.exec(x.message)?.[1])).toEqual(['2', '4', '5', '7'])
  })

  it('a too-long line is rejected without touching its neighbours', () => {
    const r = parse(`a:1|c\n${'x'.repeat(100)}:1|c\nb:2|c`, { maxLineLength: 20 })
    expect(r.samples.map(x => x.metric)).toEqual(['a', 'b'])
    expect(r.reasons()).toEqual(['too_large'])
  })

  it('a line with no pipe does not borrow the next line\'s fields', () => {
    const r = parse('a:1\nb:2|c|#k:v')
    expect(r.reasons()).toEqual(['malformed'])
    expect(r.samples).toEqual([s('b', 2, 'Count', { dimensions: { k: 'v' } })])
  })

  it('accepts a Uint8Array that is not a Buffer, and a sub-view of a larger buffer', () => {
    const bytes = new TextEncoder().encode('zzz\na:1|c\nb:2|c')
    const view = new Uint8Array(bytes.buffer, 4, bytes.length - 4)
    const r = parse(view)
    expect(r.rejects).toEqual([])
    expect(r.samples.map(x => x.metric)).toEqual(['a', 'b'])
  })

  it('invalid UTF-8 becomes replacement characters, not an exception', () => {
    const r = parse(new Uint8Array([0xff, 0xfe, 0x3a, 0x31, 0x7c, 0x63, 0x0a, 0x61, 0x3a, 0x31, 0x7c, 0x63]))
    expect(r.samples.map(x => x.metric)).toEqual(['\ufffd\ufffd', 'a'])
  })

  it('empty input produces nothing', () => {
    expect(parse('').events).toEqual([])
    expect(parse('\n\r\n\n').events).toEqual([])
    expect(parse(new Uint8Array(0)).events).toEqual([])
  })
})

describe('parseStatsd: tag dimensions', () => {
  it('reuses one frozen dimensions object for a repeated tag string', () => {
    const options: StatsdParseOptions = {}
    const r = parse('a:1|c|#x:1,y:2\nb:1|c|#x:1,y:2', options)
    expect(r.samples[0].dimensions).toBe(r.samples[1].dimensions)
    expect(Object.isFrozen(r.samples[0].dimensions)).toBe(true)
    // ...across datagrams too, for the same options object
    const r2 = new RecordingReceiver()
    parseStatsd('c:1|c|#x:1,y:2', r2, options)
    parseStatsd('c:1|c|#x:1,y:2', r2, options)
    expect(r2.samples[0].dimensions).toBe(r2.samples[1].dimensions)
  })

  it('tag order does not change the dimensions', () => {
    const r = parse('a:1|c|#x:1,y:2\na:1|c|#y:2,x:1')
    expect(r.samples[0].dimensions).toEqual(r.samples[1].dimensions)
  })

  it('the cache is bounded: it is cleared when full and results stay correct', () => {
    const options: StatsdParseOptions = { tagCacheSize: 2 }
    const r = new RecordingReceiver()
    for (let i = 0; i < 10; i++) parseStatsd(`a:1|c|#k:${i}`, r, options)
    expect(r.samples.map(x => x.dimensions?.k)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
  })

  it('a cached error is reported for every line that uses it, with its own line number', () => {
    const r = parse('a:1|c|#k:1,k:2\nb:1|c|#k:1,k:2')
    expect(r.reasons()).toEqual(['dimension_invalid', 'dimension_invalid'])
    expect(r.rejects[1].message).toMatch(/^statsd line 2:/)
  })

  it('tagCacheSize 0 disables caching', () => {
    const r = parse('a:1|c|#x:1\nb:1|c|#x:1', { tagCacheSize: 0 })
    expect(r.samples[0].dimensions).toEqual(r.samples[1].dimensions)
    expect(r.samples[0].dimensions).not.toBe(r.samples[1].dimensions)
  })
})

describe('parseStatsd: bounded work', () => {
  it('a 64 KB datagram of lines without pipes is linear, not quadratic', () => {
    const line = 'a:1\n'
    const datagram = line.repeat(16_000)
    const r = parse(datagram)
    expect(r.rejects.length).toBe(16_000)
    expect(r.samples.length).toBe(0)
  })

  it('thousands of bare tags in one line parse without blowup', () => {
    const tags = Array.from({ length: 2000 }, (_, i) => `t${i}`).join(',')
    const r = parse(`a:1|c|#${tags}`, { maxLineLength: 100_000 })
    expect(Object.keys(r.samples[0].dimensions ?? {}).length).toBe(2000)
  })
})

describe('parseStatsd: memory', () => {
  it('names and dimensions handed to the receiver do not keep their datagrams alive', async () => {
    const v8 = await import('node:v8')
    const vm = await import('node:vm')
    v8.setFlagsFromString('--expose_gc')
    const gc = vm.runInNewContext('gc') as () => void
    const kept: Array<[string, Record<string, string> | undefined]> = []
    const receiver = {
      sample (metric: string, _v: number, _u: string | undefined, dims: Record<string, string> | undefined) { kept.push([metric, dims]) },
      reject () { rejected++ },
    }
    let rejected = 0
    const options: StatsdParseOptions = { maxLineLength: 100_000 }
    gc()
    const before = process.memoryUsage().heapUsed
    // A second, rejected line makes each datagram 60 KB.
    const padding = `\n${'x'.repeat(60_000)}`
    for (let i = 0; i < 1000; i++) {
      // A long name and tags (V8 keeps slices of 13+ characters as views of the parent string).
      parseStatsd(Buffer.from(`OverheadLatencyMicros${i}:1|ms|#EndpointName:endpoint-${i},VariantName:AllTraffic${padding}`),
        receiver, options)
    }
    gc()
    const grown = process.memoryUsage().heapUsed - before
    expect(kept.length).toBe(1000)
    expect(rejected).toBe(1000)
    // 1000 datagrams of 60 KB would be ~60 MB if any slice pinned its parent.
    expect(grown).toBeLessThan(15_000_000)
  })
})

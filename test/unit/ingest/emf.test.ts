import { describe, expect, it } from 'vitest'
import { parseEmf, type EmfParseOptions } from '../../../src/ingest/emf.js'
import type { RejectReason } from '../../../src/samples/reasons.js'
import { RecordingReceiver, type RecordedSample } from '../../helpers/recording-receiver.js'

const TS = 1_700_000_000_000

function parse (data: string | Uint8Array, options?: EmfParseOptions): RecordingReceiver {
  const r = new RecordingReceiver()
  parseEmf(data, r, options)
  return r
}

/** A document with one directive; `members` are the top-level members beside `_aws`. */
function doc (directive: Record<string, unknown>, members: Record<string, unknown>, aws: Record<string, unknown> = {}): string {
  return JSON.stringify({ _aws: { Timestamp: TS, CloudWatchMetrics: [directive], ...aws }, ...members })
}

function s (metric: string, value: number, extra: Partial<RecordedSample> = {}): RecordedSample {
  return { metric, value, unit: undefined, dimensions: undefined, timestampMs: TS, count: 1, namespace: 'ns', ...extra }
}

describe('parseEmf: accepted documents', () => {
  const cases: Array<[string, string, RecordedSample[], EmfParseOptions?]> = [
    ['single value with unit and dimensions',
      doc({ Namespace: 'ns', Dimensions: [['EndpointName', 'VariantName']], Metrics: [{ Name: 'ModelLatency', Unit: 'Microseconds' }] },
        { EndpointName: 'ep', VariantName: 'v1', ModelLatency: 1200 }),
      [s('ModelLatency', 1200, { unit: 'Microseconds', dimensions: { EndpointName: 'ep', VariantName: 'v1' } })]],
    ['array of values: one sample each',
      doc({ Namespace: 'ns', Dimensions: [[]], Metrics: [{ Name: 'L' }] }, { L: [1, 2.5, -3] }),
      [s('L', 1), s('L', 2.5), s('L', -3)]],
    ['two dimension sets record each value twice',
      doc({ Namespace: 'ns', Dimensions: [['A', 'B'], ['A']], Metrics: [{ Name: 'L', Unit: 'Milliseconds' }] },
        { A: 'a', B: 'b', L: [1, 2] }),
      [
        s('L', 1, { unit: 'Milliseconds', dimensions: { A: 'a', B: 'b' } }), s('L', 2, { unit: 'Milliseconds', dimensions: { A: 'a', B: 'b' } }),
        s('L', 1, { unit: 'Milliseconds', dimensions: { A: 'a' } }), s('L', 2, { unit: 'Milliseconds', dimensions: { A: 'a' } }),
      ]],
    ['several metrics in one directive',
      doc({ Namespace: 'ns', Dimensions: [['A']], Metrics: [{ Name: 'X', Unit: 'Count' }, { Name: 'Y', Unit: 'Percent' }] },
        { A: 'a', X: 1, Y: 50 }),
      [s('X', 1, { unit: 'Count', dimensions: { A: 'a' } }), s('Y', 50, { unit: 'Percent', dimensions: { A: 'a' } })]],
    ['several directives with their own namespaces',
      JSON.stringify({ _aws: { Timestamp: TS, CloudWatchMetrics: [
        { Namespace: 'n1', Dimensions: [[]], Metrics: [{ Name: 'X' }] },
        { Namespace: 'n2', Dimensions: [[]], Metrics: [{ Name: 'X' }] },
      ] }, X: 7 }),
      [s('X', 7, { namespace: 'n1' }), s('X', 7, { namespace: 'n2' })]],
    ['missing Dimensions: one set without dimensions',
      doc({ Namespace: 'ns', Metrics: [{ Name: 'X' }] }, { X: 1 }), [s('X', 1)]],
    ['empty Dimensions array: one set without dimensions',
      doc({ Namespace: 'ns', Dimensions: [], Metrics: [{ Name: 'X' }] }, { X: 1 }), [s('X', 1)]],
    ['missing Timestamp means now (NaN)',
      JSON.stringify({ _aws: { CloudWatchMetrics: [{ Namespace: 'ns', Dimensions: [[]], Metrics: [{ Name: 'X' }] }] }, X: 1 }),
      [s('X', 1, { timestampMs: NaN })]],
    ['StorageResolution 60 and 1 are both aggregated by default',
      doc({ Namespace: 'ns', Dimensions: [[]], Metrics: [{ Name: 'X', StorageResolution: 60 }, { Name: 'Y', StorageResolution: 1 }] },
        { X: 1, Y: 2 }),
      [s('X', 1), s('Y', 2)]],
    ['Values/Counts histogram form: each value weighted by its count, zero counts skipped',
      doc({ Namespace: 'ns', Dimensions: [[]], Metrics: [{ Name: 'H', Unit: 'Milliseconds' }] },
        { H: { Values: [1, 2, 3], Counts: [10, 0, 2.5], Max: 3, Min: 1, Count: 12.5, Sum: 17.5 } }),
      [s('H', 1, { unit: 'Milliseconds', count: 10 }), s('H', 3, { unit: 'Milliseconds', count: 2.5 })]],
    ['Values without Counts: count 1 each',
      doc({ Namespace: 'ns', Dimensions: [[]], Metrics: [{ Name: 'H' }] }, { H: { Values: [4, 5] } }),
      [s('H', 4), s('H', 5)]],
    ['exactly 100 values is fine',
      doc({ Namespace: 'ns', Dimensions: [[]], Metrics: [{ Name: 'X' }] }, { X: Array.from({ length: 100 }, (_, i) => i) }),
      Array.from({ length: 100 }, (_, i) => s('X', i))],
    ['unknown members and _aws members are ignored',
      doc({ Namespace: 'ns', Dimensions: [[]], Metrics: [{ Name: 'X', Extra: 1 }], Other: true }, { X: 1, note: 'hi' },
        { LogGroupName: 'lg', Unknown: 5 }),
      [s('X', 1)]],
    ['empty CloudWatchMetrics is a plain log line: nothing, no reject',
      JSON.stringify({ _aws: { Timestamp: TS, CloudWatchMetrics: [] }, msg: 'x' }), []],
    ['a __proto__ dimension is an own property',
      '{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"ns","Dimensions":[["__proto__"]],' +
        '"Metrics":[{"Name":"X"}]}]},"__proto__":"p","X":1}',
      [s('X', 1, { dimensions: JSON.parse('{"__proto__":"p"}') as Record<string, string> })]],
  ]
  for (const [title, text, expected, options] of cases) {
    it(title, () => {
      const r = parse(text, options)
      expect(r.rejects).toEqual([])
      expect(r.samples).toEqual(expected)
      const rb = parse(Buffer.from(text + '\n'), options)
      expect(rb.events).toEqual(r.events)
    })
  }
})

describe('parseEmf: rejections', () => {
  const ok = { Namespace: 'ns', Dimensions: [['A']], Metrics: [{ Name: 'X' }] }
  const cases: Array<[string, string, RejectReason[], RegExp, number, EmfParseOptions?]> = [
    ['not JSON', '{"_aws": ', ['malformed'], /not valid JSON/, 0],
    ['JSON but not an object', '[1,2,3]', ['malformed'], /must be a JSON object.*an array of 3/, 0],
    ['a JSON string', '"hello"', ['malformed'], /must be a JSON object/, 0],
    ['no _aws', '{"X":1}', ['malformed'], /no "_aws" metadata object/, 0],
    ['_aws not an object', '{"_aws":5,"X":1}', ['malformed'], /got 5/, 0],
    ['Timestamp a string', doc(ok, { A: 'a', X: 1 }, { Timestamp: '1700000000000' }), ['timestamp_invalid'], /epoch milliseconds: got "1700000000000"/, 0],
    ['Timestamp null', doc(ok, { A: 'a', X: 1 }, { Timestamp: null }), ['timestamp_invalid'], /got null/, 0],
    ['CloudWatchMetrics missing', '{"_aws":{"Timestamp":1}}', ['malformed'], /CloudWatchMetrics" must be an array.*got nothing/, 0],
    ['directive not an object', JSON.stringify({ _aws: { Timestamp: TS, CloudWatchMetrics: [5] } }), ['malformed'], /directive 0: a metric directive must be an object/, 0],
    ['Namespace missing', doc({ Dimensions: [['A']], Metrics: [{ Name: 'X' }] }, { A: 'a', X: 1 }), ['namespace_invalid'], /"Namespace" must be a string: got nothing/, 0],
    ['Namespace a number', doc({ Namespace: 5, Metrics: [{ Name: 'X' }] }, { X: 1 }), ['namespace_invalid'], /got 5/, 0],
    ['Metrics not an array', doc({ Namespace: 'ns', Metrics: { Name: 'X' } }, { X: 1 }), ['malformed'], /"Metrics" must be an array/, 0],
    ['101 metrics', doc({ Namespace: 'ns', Metrics: Array.from({ length: 101 }, (_, i) => ({ Name: `M${i}` })) },
      Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`M${i}`, 1]))), ['too_large'], /101 metrics is over the limit of 100/, 0],
    ['Dimensions not an array', doc({ Namespace: 'ns', Dimensions: 'A', Metrics: [{ Name: 'X' }] }, { A: 'a', X: 1 }), ['malformed'], /"Dimensions" must be an array/, 0],
    ['dimension set not an array', doc({ Namespace: 'ns', Dimensions: ['A'], Metrics: [{ Name: 'X' }] }, { A: 'a', X: 1 }), ['dimension_invalid'], /dimension set 0: a dimension set must be an array/, 0],
    ['31 dimension keys', doc({ Namespace: 'ns', Dimensions: [Array.from({ length: 31 }, (_, i) => `D${i}`)], Metrics: [{ Name: 'X' }] },
      { X: 1, ...Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`D${i}`, 'v'])) }), ['too_many_dimensions'], /31 dimension keys is over the limit of 30/, 0],
    ['dimension member missing', doc({ Namespace: 'ns', Dimensions: [['A']], Metrics: [{ Name: 'X' }] }, { X: 1 }), ['dimension_invalid'], /dimension "A" has no top-level member/, 0],
    ['dimension member a number', doc(ok, { A: 5, X: 1 }), ['dimension_invalid'], /dimension "A" must be a string member: got 5/, 0],
    ['dimension key not a string', doc({ Namespace: 'ns', Dimensions: [[5]], Metrics: [{ Name: 'X' }] }, { X: 1 }), ['dimension_invalid'], /keys must be strings/, 0],
    ['dimension key names an inherited member', doc({ Namespace: 'ns', Dimensions: [['toString']], Metrics: [{ Name: 'X' }] }, { X: 1 }), ['dimension_invalid'], /"toString" has no top-level member/, 0],
    ['metric member missing', doc(ok, { A: 'a' }), ['malformed'], /metric 0 \("X"\): the document has no top-level member "X"/, 0],
    ['metric named after an inherited member', doc({ Namespace: 'ns', Metrics: [{ Name: 'constructor' }] }, {}), ['malformed'], /no top-level member "constructor"/, 0],
    ['metric value a string', doc(ok, { A: 'a', X: '12' }), ['not_a_number'], /value "12" is not a number/, 0],
    ['metric value null', doc(ok, { A: 'a', X: null }), ['not_a_number'], /value null/, 0],
    ['metric value a boolean', doc(ok, { A: 'a', X: true }), ['not_a_number'], /value true/, 0],
    ['array with a string', doc(ok, { A: 'a', X: [1, 'two', 3] }), ['not_a_number'], /value 1 \("two"\)/, 0],
    ['array with null', doc(ok, { A: 'a', X: [1, null] }), ['not_a_number'], /value 1 \(null\)/, 0],
    ['overflowing number', doc(ok, { A: 'a' }).slice(0, -1) + ',"X":1e999}', ['not_finite'], /not finite/, 0],
    ['overflowing number in an array', doc(ok, { A: 'a' }).slice(0, -1) + ',"X":[1,-1e999]}', ['not_finite'], /value 1/, 0],
    ['empty array', doc(ok, { A: 'a', X: [] }), ['malformed'], /value array is empty/, 0],
    ['101 values', doc(ok, { A: 'a', X: Array.from({ length: 101 }, () => 1) }), ['too_large'], /101 values is over the limit of 100/, 0],
    ['metric definition not an object', doc({ Namespace: 'ns', Metrics: ['X'] }, { X: 1 }), ['metric_name_invalid'], /must be an object with a "Name"/, 0],
    ['metric Name missing', doc({ Namespace: 'ns', Metrics: [{ Unit: 'Count' }] }, { X: 1 }), ['metric_name_invalid'], /"Name" must be a non-empty string: got nothing/, 0],
    ['metric Name empty', doc({ Namespace: 'ns', Metrics: [{ Name: '' }] }, { X: 1 }), ['metric_name_invalid'], /got ""/, 0],
    ['Unit not a string', doc({ Namespace: 'ns', Metrics: [{ Name: 'X', Unit: 5 }] }, { X: 1 }), ['unit_invalid'], /"Unit" must be a string/, 0],
    ['StorageResolution 5', doc({ Namespace: 'ns', Metrics: [{ Name: 'X', StorageResolution: 5 }] }, { X: 1 }), ['malformed'], /must be 1 or 60: got 5/, 0],
    ['StorageResolution 1 when high resolution is rejected', doc({ Namespace: 'ns', Metrics: [{ Name: 'X', StorageResolution: 1 }] }, { X: 1 }),
      ['unsupported_type'], /high-resolution/, 0, { highResolution: 'reject' }],
    ['statistic set without Values', doc({ Namespace: 'ns', Metrics: [{ Name: 'X' }] }, { X: { Sum: 1, Min: 1, Max: 1, Count: 1 } }), ['unsupported_type'], /statistic set/, 0],
    ['Values not an array', doc({ Namespace: 'ns', Metrics: [{ Name: 'X' }] }, { X: { Values: 1 } }), ['malformed'], /"Values" must be an array/, 0],
    ['Counts of the wrong length', doc({ Namespace: 'ns', Metrics: [{ Name: 'X' }] }, { X: { Values: [1, 2], Counts: [1] } }), ['count_invalid'], /as long as "Values" \(2\)/, 0],
    ['negative count', doc({ Namespace: 'ns', Metrics: [{ Name: 'X' }] }, { X: { Values: [1], Counts: [-1] } }), ['count_invalid'], /finite number >= 0: got -1/, 0],
    ['too many samples', doc({ Namespace: 'ns', Dimensions: [['A'], ['A'], ['A']], Metrics: [{ Name: 'X' }] }, { A: 'a', X: [1, 2] }),
      ['too_large'], /would produce 6 samples/, 0, { maxSamplesPerDocument: 5 }],
    ['document over the byte limit', doc(ok, { A: 'a', X: 1, pad: 'x'.repeat(300) }), ['too_large'], /over the limit of 200/, 0, { maxDocumentBytes: 200 }],
  ]
  for (const [title, text, reasons, message, samples, options] of cases) {
    it(title, () => {
      for (const input of [text, Buffer.from(text)]) {
        const r = parse(input, options)
        expect(r.reasons()).toEqual(reasons)
        expect(r.samples.length).toBe(samples)
        expect(r.rejects[0].message).toMatch(/^emf document 1/)
        expect(r.rejects[0].message).toMatch(message)
      }
    })
  }

  it('a bad metric does not take the good ones of its directive with it', () => {
    const r = parse(doc({ Namespace: 'ns', Dimensions: [['A']], Metrics: [{ Name: 'Good' }, { Name: 'Missing' }, { Name: 'Bad' }, { Name: 'Good2' }] },
      { A: 'a', Good: 1, Bad: 'x', Good2: [2, 3] }))
    expect(r.reasons()).toEqual(['malformed', 'not_a_number'])
    expect(r.samples.map(x => [x.metric, x.value])).toEqual([['Good', 1], ['Good2', 2], ['Good2', 3]])
  })

  it('a bad dimension set does not take the other sets with it', () => {
    const r = parse(doc({ Namespace: 'ns', Dimensions: [['A', 'Missing'], ['A']], Metrics: [{ Name: 'X' }] }, { A: 'a', X: 1 }))
    expect(r.reasons()).toEqual(['dimension_invalid'])
    expect(r.samples).toEqual([s('X', 1, { dimensions: { A: 'a' } })])
  })

  it('a bad directive does not take the other directives with it', () => {
    const r = parse(JSON.stringify({ _aws: { Timestamp: TS, CloudWatchMetrics: [
      { Dimensions: [[]], Metrics: [{ Name: 'X' }] },
      { Namespace: 'ok', Dimensions: [[]], Metrics: [{ Name: 'X' }] },
    ] }, X: 1 }))
    expect(r.reasons()).toEqual(['namespace_invalid'])
    expect(r.samples).toEqual([s('X', 1, { namespace: 'ok' })])
  })

  it('a document over the sample budget is rejected whole, with nothing recorded', () => {
    const r = parse(doc({ Namespace: 'ns', Dimensions: [['Missing'], ['A']], Metrics: [{ Name: 'X' }] }, { A: 'a', X: [1, 2, 3] }),
      { maxSamplesPerDocument: 2 })
    expect(r.reasons()).toEqual(['too_large'])
    expect(r.samples).toEqual([])
  })

  it('a string document with multi-byte characters is measured in UTF-8 bytes', () => {
    // 100 characters, 300 bytes
    const text = doc({ Namespace: 'ns', Metrics: [{ Name: 'X' }] }, { X: 1, pad: '€'.repeat(100) })
    expect(parse(text, { maxDocumentBytes: text.length + 10 }).reasons()).toEqual(['too_large'])
    expect(parse(text, { maxDocumentBytes: Buffer.byteLength(text) }).reasons()).toEqual([])
  })
})

describe('parseEmf: several documents', () => {
  const good = (v: number): string => doc({ Namespace: 'ns', Dimensions: [[]], Metrics: [{ Name: 'X' }] }, { X: v })

  it('one document per line, blank lines and \\r\\n tolerated, numbered by document', () => {
    const r = parse([good(1), '', 'garbage', '  ', good(2) + '\r', '{}', good(3), ''].join('\n'))
    expect(r.samples.map(x => x.value)).toEqual([1, 2, 3])
    expect(r.reasons()).toEqual(['malformed', 'malformed'])
    expect(r.rejects[0].message).toMatch(/^emf document 2:/)
    expect(r.rejects[1].message).toMatch(/^emf document 4:/)
  })

  it('a too-large line among good ones', () => {
    const big = doc({ Namespace: 'ns', Metrics: [{ Name: 'X' }] }, { X: 1, pad: 'x'.repeat(1000) })
    const input = [good(1), big, good(2)].join('\n')
    for (const data of [input, Buffer.from(input)]) {
      const r = parse(data, { maxDocumentBytes: 500 })
      expect(r.samples.map(x => x.value)).toEqual([1, 2])
      expect(r.reasons()).toEqual(['too_large'])
      expect(r.rejects[0].message.length).toBeLessThan(300)
    }
  })

  it('the default limit is 256 KB', () => {
    const big = doc({ Namespace: 'ns', Metrics: [{ Name: 'X' }] }, { X: 1, pad: 'x'.repeat(256 * 1024) })
    expect(parse(big).reasons()).toEqual(['too_large'])
    const fits = doc({ Namespace: 'ns', Metrics: [{ Name: 'X' }] }, { X: 1, pad: 'x'.repeat(250 * 1024) })
    expect(parse(fits).samples.length).toBe(1)
  })

  it('deeply nested JSON is malformed or ignored, never a crash', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    const r = parse(deep)
    expect(r.reasons()).toEqual(['malformed'])
    const deepMember = `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]},"x":${'['.repeat(50_000)}${']'.repeat(50_000)}}`
    expect(parse(deepMember).events).toEqual([])
  })

  it('a non-Buffer Uint8Array view', () => {
    const bytes = new TextEncoder().encode(`xx\n${good(5)}`)
    const r = parse(new Uint8Array(bytes.buffer, 3))
    expect(r.rejects).toEqual([])
    expect(r.samples.map(x => x.value)).toEqual([5])
  })

  it('empty input produces nothing', () => {
    expect(parse('').events).toEqual([])
    expect(parse(' \n\r\n').events).toEqual([])
    expect(parse(new Uint8Array(0)).events).toEqual([])
  })
})

/**
 * Properties of the wire-format parsers.
 *
 * The StatsD invariant ("nothing silently vanishes"): every line that is not empty after removing
 * a trailing `\r` produces EITHER exactly one reject and no sample, OR no reject and exactly one
 * sample per `:`-separated value. Lines are independent: parsing a datagram gives the same
 * samples and reject reasons as parsing each of its lines on its own.
 *
 * The EMF invariant: every non-blank line that is not a JSON object with an `_aws` object produces
 * exactly one reject and no sample, and no input makes the parser throw.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseEmf } from '../../src/ingest/emf.js'
import { parseStatsd, type StatsdParseOptions } from '../../src/ingest/statsd.js'
import { RecordingReceiver } from '../helpers/recording-receiver.js'

/** FUZZ_RUNS raises the run count for the long fuzz run (npm run fuzz). */
const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 300)

/** Lines as the parser sees them: split on \n, a trailing \r removed. */
function linesOf (text: string): string[] {
  return text.split('\n').map(l => l.endsWith('\r') ? l.slice(0, -1) : l)
}

/** Characters that matter to the grammar, so random strings hit interesting paths often. */
const statsdChar = fc.constantFrom(...'abc:|@#,.-+eET0123456789_{}\n\r sgdhmc'.split(''), '\u00e9', '\u0000')
const statsdish = fc.oneof(
  fc.string({ unit: statsdChar, maxLength: 80 }),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
)

function valueCount (line: string): number {
  const colon = line.indexOf(':')
  const pipe = line.indexOf('|')
  return line.slice(colon + 1, pipe).split(':').length
}

describe('parseStatsd properties', () => {
  it('(a) never throws; each non-empty line yields one reject xor one sample per value; lines are independent', () => {
    fc.assert(fc.property(fc.array(statsdish, { maxLength: 6 }), fc.boolean(), (parts, crlf) => {
      const text = parts.join(crlf ? '\r\n' : '\n')
      const options: StatsdParseOptions = { maxLineLength: 60 }
      const whole = new RecordingReceiver()
      parseStatsd(text, whole, options)

      const perLine = new RecordingReceiver()
      for (const raw of text.split('\n')) {
        const line = linesOf(raw)[0]
        if (line === '') continue
        const r = new RecordingReceiver()
        // The raw line, \r included: the parser strips exactly one trailing \r itself.
        parseStatsd(raw, r, options)
        if (r.rejects.length > 0) {
          expect(r.rejects.length).toBe(1)
          expect(r.samples.length).toBe(0)
          expect(r.rejects[0].message).toMatch(/^statsd line 1: /)
        } else {
          expect(r.samples.length).toBe(valueCount(line))
        }
        for (const e of r.events) {
          if (e.kind === 'sample') perLine.sample(e.metric, e.value, e.unit, e.dimensions, e.timestampMs, e.count, e.namespace)
          else perLine.reject(e.reason, e.message)
        }
      }
      expect(whole.samples).toEqual(perLine.samples)
      expect(whole.reasons()).toEqual(perLine.reasons())
      // Every sample the parser passes on is finite, with a positive finite weight.
      for (const x of whole.samples) {
        expect(Number.isFinite(x.value)).toBe(true)
        expect(x.count > 0 && Number.isFinite(x.count)).toBe(true)
      }
    }), { numRuns: NUM_RUNS * 3 })
  })

  it('(a) arbitrary bytes never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), bytes => {
      const r = new RecordingReceiver()
      parseStatsd(bytes, r, {})
      const text = Buffer.from(bytes).toString('utf8')
      const nonEmpty = linesOf(text).filter(l => l !== '').length
      // one reject, or at least one sample, per non-empty line
      expect(r.rejects.length).toBeLessThanOrEqual(nonEmpty)
      expect(r.rejects.length + (r.samples.length > 0 ? 1 : 0)).toBeLessThanOrEqual(nonEmpty + 1)
      const asString = new RecordingReceiver()
      parseStatsd(text, asString, {})
      expect(asString.events).toEqual(r.events)
    }), { numRuns: NUM_RUNS })
  })

  // --- (b) round trip ---
  const nameChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/ @#,'.split(''), 'é', 'µ')
  const name = fc.string({ unit: nameChar, minLength: 1, maxLength: 30 })
    .filter(n => !n.startsWith('_'))
  const tagKeyChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/ '.split(''))
  const tagKey = fc.string({ unit: tagKeyChar, minLength: 1, maxLength: 12 })
  const tagValue = fc.string({ unit: fc.constantFrom(...'abcxyz0123456789._-/: '.split(''), 'é'), maxLength: 16 })
  const finite = fc.double({ noNaN: true, noDefaultInfinity: true })
  const decimal = fc.tuple(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.integer({ min: 0, max: 6 }))
    .map(([m, k]) => {
      const t = (Math.abs(m) / 10 ** k).toFixed(k)
      return m < 0 ? `-${t}` : t
    })
  const valueText = fc.oneof(finite.map(v => String(v)), decimal, fc.integer().map(String))
  const rate = fc.double({ min: 1e-6, max: 1, noNaN: true }).filter(r => r > 0)

  interface Gen {
    name: string
    type: 'ms' | 'h' | 'd' | 'c' | 'g'
    values: string[]
    rate: number | undefined
    tags: Array<[string, string | undefined]>
    ts: number | undefined
    ext: string | undefined
  }
  const gen: fc.Arbitrary<Gen> = fc.record({
    name,
    type: fc.constantFrom('ms' as const, 'h' as const, 'd' as const, 'c' as const, 'g' as const),
    values: fc.array(valueText, { minLength: 1, maxLength: 4 }),
    rate: fc.option(rate, { nil: undefined }),
    tags: fc.uniqueArray(fc.tuple(tagKey, fc.option(tagValue, { nil: undefined })), { selector: t => t[0], maxLength: 5 }),
    ts: fc.option(fc.integer({ min: 0, max: 4_000_000_000 }), { nil: undefined }),
    ext: fc.option(fc.constantFrom('c:abc123', 'e:it-false,cn-x', 'card:low', 'c:ci-1234'), { nil: undefined }),
  })

  /** Serialises a generated metric, with optional fields in a shuffled order. */
  function render (g: Gen, fieldOrder: number[], tagOrder: number[]): string {
    const fields: string[] = []
    if (g.rate !== undefined) fields.push(`@${g.rate}`)
    if (g.tags.length > 0) {
      const tags = tagOrder.filter(i => i < g.tags.length).map(i => g.tags[i])
      fields.push('#' + tags.map(([k, v]) => v === undefined ? k : `${k}:${v}`).join(','))
    }
    if (g.ts !== undefined) fields.push(`T${g.ts}`)
    if (g.ext !== undefined) fields.push(g.ext)
    const ordered = fieldOrder.filter(i => i < fields.length).map(i => fields[i])
    return `${g.name}:${g.values.join(':')}|${g.type}${ordered.map(f => `|${f}`).join('')}`
  }

  const permutation = (n: number): fc.Arbitrary<number[]> =>
    fc.shuffledSubarray(Array.from({ length: n }, (_, i) => i), { minLength: n, maxLength: n })

  it('(b) generated valid lines parse back to the same values, weights and dimensions', () => {
    const units: StatsdParseOptions = {}
    fc.assert(fc.property(fc.array(fc.tuple(gen, permutation(4), permutation(5)), { minLength: 1, maxLength: 5 }), fc.boolean(),
      (items, crlf) => {
        const text = items.map(([g, fo, to]) => render(g, fo, to)).join(crlf ? '\r\n' : '\n')
        const r = new RecordingReceiver()
        parseStatsd(text, r, units)
        expect(r.rejects).toEqual([])
        const expected = items.flatMap(([g]) => {
          const dims = g.tags.length === 0 ? undefined : Object.fromEntries(g.tags.map(([k, v]) => [k, v ?? 'true']))
          return g.values.map(v => ({
            metric: g.name,
            value: Number(v),
            unit: { ms: 'Milliseconds', h: 'None', d: 'None', c: 'Count', g: 'None' }[g.type],
            dimensions: dims,
            timestampMs: g.ts === undefined ? NaN : g.ts * 1000,
            count: g.rate === undefined ? 1 : 1 / g.rate,
            namespace: undefined,
          }))
        })
        expect(r.samples).toEqual(expected)
      }), { numRuns: NUM_RUNS })
  })

  it('(b) tag order never changes the dimensions', () => {
    fc.assert(fc.property(gen, permutation(5), permutation(5), (g, o1, o2) => {
      const r = new RecordingReceiver()
      parseStatsd(render(g, [0, 1, 2, 3], o1) + '\n' + render(g, [3, 2, 1, 0], o2), r, {})
      expect(r.rejects).toEqual([])
      const half = r.samples.length / 2
      for (let i = 0; i < half; i++) expect(r.samples[i].dimensions).toEqual(r.samples[i + half].dimensions)
    }), { numRuns: NUM_RUNS })
  })

  it('the fast number path agrees with Number() on every decimal it accepts', () => {
    fc.assert(fc.property(fc.oneof(valueText, fc.stringMatching(/^-?\d{1,20}(\.\d{0,25})?$/)), v => {
      const r = new RecordingReceiver()
      parseStatsd(`x:${v}|d`, r, {})
      expect(r.samples.map(s => s.value)).toEqual([Number(v)])
    }), { numRuns: NUM_RUNS * 3 })
  })
})

describe('parseEmf properties', () => {
  it('never throws on arbitrary text; each non-object line is exactly one reject', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.string({ maxLength: 60 }), fc.json({ maxDepth: 3 })), { maxLength: 5 }), lines => {
      const text = lines.join('\n')
      const r = new RecordingReceiver()
      parseEmf(text, r)
      let expectedRejects = 0
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue
        let v: unknown
        try { v = JSON.parse(line) } catch { expectedRejects++; continue }
        const aws = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)._aws : undefined
        if (typeof aws !== 'object' || aws === null || Array.isArray(aws) || !Object.hasOwn(v as object, '_aws')) expectedRejects++
      }
      expect(r.samples).toEqual([])
      expect(r.rejects.length).toBe(expectedRejects)
    }), { numRuns: NUM_RUNS })
  })

  it('never throws on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), bytes => {
      const r = new RecordingReceiver()
      parseEmf(bytes, r)
      expect(r.samples).toEqual([])
    }), { numRuns: NUM_RUNS })
  })

  it('never throws on EMF-shaped documents with arbitrary parts', () => {
    const anyJson = fc.jsonValue({ maxDepth: 2 })
    const part = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | unknown> => fc.oneof(a, anyJson)
    const directive = fc.record({
      Namespace: part(fc.constant('ns')),
      Dimensions: part(fc.array(fc.array(part(fc.constantFrom('A', 'B', 'X', 'missing')), { maxLength: 3 }), { maxLength: 3 })),
      Metrics: part(fc.array(part(fc.record({ Name: part(fc.constantFrom('X', 'Y', 'A')), Unit: part(fc.constant('Count')) })), { maxLength: 3 })),
    }, { requiredKeys: [] })
    const docArb = fc.record({
      _aws: part(fc.record({ Timestamp: part(fc.constant(1)), CloudWatchMetrics: part(fc.array(part(directive), { maxLength: 3 })) }, { requiredKeys: [] })),
      A: part(fc.constant('a')),
      B: part(fc.constant('b')),
      X: part(fc.oneof(fc.double(), fc.array(fc.double(), { maxLength: 4 }))),
      Y: anyJson,
    }, { requiredKeys: [] })
    fc.assert(fc.property(docArb, d => {
      const r = new RecordingReceiver()
      parseEmf(JSON.stringify(d), r)
      for (const x of r.samples) {
        expect(Number.isFinite(x.value)).toBe(true)
        expect(x.count > 0).toBe(true)
        expect(typeof x.namespace).toBe('string')
      }
    }), { numRuns: NUM_RUNS })
  })

  it('a valid document yields dimension sets x values samples, and nothing else', () => {
    const key = fc.constantFrom('A', 'B', 'C', 'D')
    const arb = fc.record({
      sets: fc.array(fc.uniqueArray(key, { maxLength: 4 }), { minLength: 1, maxLength: 3 }),
      metrics: fc.uniqueArray(fc.tuple(fc.constantFrom('M1', 'M2', 'M3'),
        fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 100 }))),
      { selector: m => m[0], minLength: 1, maxLength: 3 }),
      ts: fc.integer({ min: 0, max: 2 ** 45 }),
    })
    fc.assert(fc.property(arb, ({ sets, metrics, ts }) => {
      const d: Record<string, unknown> = {
        _aws: { Timestamp: ts, CloudWatchMetrics: [{ Namespace: 'ns', Dimensions: sets, Metrics: metrics.map(([n]) => ({ Name: n, Unit: 'Count' })) }] },
        A: 'a', B: 'b', C: 'c', D: 'd',
      }
      for (const [n, v] of metrics) d[n] = v
      const r = new RecordingReceiver()
      parseEmf(JSON.stringify(d), r)
      expect(r.rejects).toEqual([])
      const expected = sets.flatMap(set => metrics.flatMap(([n, v]) => (Array.isArray(v) ? v : [v]).map(value => ({
        metric: n,
        value: JSON.parse(JSON.stringify(value)) as number,
        unit: 'Count',
        dimensions: set.length === 0 ? undefined : Object.fromEntries(set.map(k => [k, k.toLowerCase()])),
        timestampMs: ts,
        count: 1,
        namespace: 'ns',
      }))))
      expect(r.samples).toEqual(expected)
    }), { numRuns: NUM_RUNS })
  })
})

/**
 * Hostile input against every entry point that takes outside data: the engine's record(),
 * the HTTP JSON ingest (as a function and over a real socket), and the CLI's settings.
 * Invariants: nothing throws (config aside, which throws ConfigError only), every sample is
 * either accepted or rejected with a reason, and good samples beside bad ones are unaffected.
 * FUZZ_RUNS raises the run counts for the long run (`npm run fuzz`).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock, MetricsError, type Aggregator } from '../../src/index.js'
import { ingestJson, startHttpListener, type HttpListener } from '../../src/listeners/http.js'
import { kSettings, resolveSettings } from '../../src/cli/config.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 200)
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)

function agg (): Aggregator {
  return createAggregator({ namespace: 'Fuzz', sink: inMemorySink(), clock: new ManualClock(T0), onWarning: () => {}, maxSeries: 1000 })
}

const sampleish = fc.oneof(
  fc.record({ metric: fc.oneof(fc.constantFrom('ModelLatency', 'M'), fc.string()), value: fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null)), unit: fc.option(fc.oneof(fc.constantFrom('Microseconds', 'Percent'), fc.string())), dimensions: fc.option(fc.oneof(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())), fc.anything())), timestamp: fc.option(fc.oneof(fc.integer({ min: T0 - 20 * 86_400_000, max: T0 + 5 * 3600_000 }), fc.double(), fc.string())), count: fc.option(fc.oneof(fc.double(), fc.integer(), fc.string())) }, { requiredKeys: [] }),
  fc.anything(),
)

describe('hostile input', () => {
  it('record() never throws and accounts for every call', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.anything(), fc.anything(), fc.anything(), fc.anything()), { maxLength: 30 }), (calls) => {
      const a = agg()
      const good = a.series('Good')
      for (const [m, v, d, o] of calls) {
        expect(() => { a.record(m as string, v as number, d as Record<string, string>, o as object) }).not.toThrow()
        good.record(1)
      }
      const st = a.stats()
      expect(st.samplesAccepted + st.samplesRejected).toBe(calls.length * 2)
      expect(st.samplesAccepted).toBeGreaterThanOrEqual(calls.length)   // every good sample counted
    }), { numRuns: RUNS })
  })

  it('ingestJson answers for every sample of any body, and never throws', () => {
    fc.assert(fc.property(fc.oneof(fc.record({ samples: fc.array(sampleish, { maxLength: 40 }) }), fc.anything()), (body) => {
      const a = agg()
      const r = ingestJson(a, body, 1000)
      if ('error' in r) {
        expect(typeof r.error).toBe('string')
        return
      }
      const n = (body as { samples: unknown[] }).samples.length
      expect(r.accepted + r.rejected.length).toBe(n)
      for (const x of r.rejected) { expect(x.reason).toMatch(/^[a-z_]+$/); expect(x.message.length).toBeGreaterThan(0) }
      const st = a.stats()
      expect(st.samplesAccepted).toBe(r.accepted)
      expect(st.samplesRejected).toBe(r.rejected.length)
    }), { numRuns: RUNS * 5 })
  })

  it('CLI settings either resolve or throw a ConfigError naming the flag', () => {
    const flagNames = kSettings.map(s => s.flag)
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...flagNames), fc.oneof(fc.string(), fc.boolean(), fc.array(fc.string()))), fc.dictionary(fc.constantFrom(...kSettings.map(s => s.env)), fc.string()), (flags, env) => {
      try {
        resolveSettings(kSettings, flags, env)
      } catch (err) {
        expect(err).toBeInstanceOf(MetricsError)
        expect((err as MetricsError).code).toBe('METRICS_ERR_INVALID_OPTION')
        expect((err as Error).message).toMatch(/--[a-z-]+|MINUTELY_[A-Z_]+/)
      }
    }), { numRuns: RUNS * 5 })
  })

  describe('over a real socket', () => {
    let a: Aggregator
    let http: HttpListener
    beforeAll(async () => { a = agg(); http = await startHttpListener({ aggregator: a, port: 0, host: '127.0.0.1', maxBodyBytes: 4096 }) })
    afterAll(async () => { await http.close(); await a.close() })

    it('answers any body with 200, 400 or 413 and keeps serving', async () => {
      await fc.assert(fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 6000 }), fc.json().map(s => new TextEncoder().encode(s)), fc.record({ samples: fc.array(sampleish, { maxLength: 20 }) }).map(o => new TextEncoder().encode(JSON.stringify(o)))), async (body) => {
        const r = await fetch(`http://127.0.0.1:${http.port}/v1/samples`, { method: 'POST', body })
        expect([200, 400, 413]).toContain(r.status)
        const j = await r.json() as { error?: string, accepted?: number }
        if (r.status === 200) expect(typeof j.accepted).toBe('number')
        else expect(typeof j.error).toBe('string')
      }), { numRuns: Math.min(RUNS, 2000) })
      const ok = await fetch(`http://127.0.0.1:${http.port}/v1/samples`, { method: 'POST', body: JSON.stringify({ samples: [{ metric: 'Still', value: 1 }] }) })
      expect(await ok.json()).toEqual({ accepted: 1, rejected: [] })
    })
  })
})

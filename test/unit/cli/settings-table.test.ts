/**
 * One source of truth for settings: the flags that set an engine option take its default and
 * bounds from the engine's tables (kDefaults, kBounds), and the resolved settings are typed
 * from the flag tables (a wrong type fails `npm run typecheck`; the values are checked here).
 */
import { describe, expect, expectTypeOf, it } from 'vitest'
import { resolveSettings, secretValues, type SettingsOf } from '../../../src/cli/config.js'
import { kPipelineSettings, type PipelineSettings } from '../../../src/cli/pipeline.js'
import { kSidecarSettings, type Settings } from '../../../src/cli/sidecar.js'
import { kBounds, kDefaults, normalizeOptions } from '../../../src/core/options.js'

/** Each integer option of the engine and the flag that sets it. */
const kEngineFlags = {
  maxDimensions: 'max-dimensions',
  maxSeries: 'max-series',
  gracePeriodMs: 'grace-ms',
  precisionBits: 'precision-bits',
  closeTimeoutMs: 'close-timeout-ms',
  maxQueuedBytes: 'max-queued-bytes',
  spoolMaxBytes: 'spool-max-bytes',
  checkpointIntervalMs: 'checkpoint-interval-ms',
} as const

describe('engine flags take the engine\'s defaults and bounds', () => {
  for (const [command, table] of [['sidecar', kSidecarSettings], ['pipeline', kPipelineSettings]] as const) {
    it.each(Object.entries(kEngineFlags))(`${command}: %s is --%s`, (option, flag) => {
      const s = table.find(x => x.flag === flag)
      expect(s, flag).toBeDefined()
      expect(s!.option).toBe(option)
      expect(s!.default).toBe(kDefaults[option as keyof typeof kEngineFlags])
      expect({ min: s!.min, max: s!.max }).toEqual(kBounds[option as keyof typeof kEngineFlags])
    })
  }

  it('resolved without flags, the sidecar\'s engine settings are the library\'s defaults', () => {
    const s = resolveSettings(kSidecarSettings, {}, {})
    const lib = normalizeOptions({ namespace: 'N' })
    for (const [option, flag] of Object.entries(kEngineFlags)) {
      const key = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Settings
      expect(s[key], flag).toBe(lib[option as keyof typeof kEngineFlags])
    }
  })

  it('a value past an engine bound is refused by the flag, naming it and the engine\'s range', () => {
    const { min, max } = kBounds.maxQueuedBytes
    expect(() => resolveSettings(kSidecarSettings, { 'max-queued-bytes': String(max + 1) }, {}))
      .toThrow(`--max-queued-bytes must be an integer from ${min} to ${max}; got "${max + 1}"`)
    expect(() => resolveSettings(kPipelineSettings, {}, { MINUTELY_SPOOL_MAX_BYTES: '1024' }))
      .toThrow(`MINUTELY_SPOOL_MAX_BYTES must be an integer from ${kBounds.spoolMaxBytes.min} to ${kBounds.spoolMaxBytes.max}; got "1024"`)
  })
})

describe('resolved settings are typed from the flag table', () => {
  it('each key is the flag in camelCase, with the type its setting says', () => {
    const s = resolveSettings(kSidecarSettings, { 'max-series': '7', 'statsd-port': 'off', 'instance-collect': ['cpu'], 'statsd-units': 'A=Bytes' }, {})
    expectTypeOf(s).toEqualTypeOf<Settings>()
    expectTypeOf(s.maxSeries).toEqualTypeOf<number>()
    expectTypeOf(s.namespace).toEqualTypeOf<string>()
    expectTypeOf(s.region).toEqualTypeOf<string | undefined>()
    expectTypeOf(s.noCompression).toEqualTypeOf<boolean | undefined>()
    expectTypeOf(s.selfMetrics).toEqualTypeOf<boolean>()
    expectTypeOf(s.statsdPort).toEqualTypeOf<number | false>()
    expectTypeOf(s.instanceCollect).toEqualTypeOf<string[]>()
    expectTypeOf(s.statsdUnits).toEqualTypeOf<Record<string, string>>()
    expectTypeOf(s.instanceNumber).toEqualTypeOf<number | undefined>()
    expectTypeOf(s).not.toHaveProperty('port')
    expect(s).toMatchObject({ maxSeries: 7, statsdPort: false, instanceCollect: ['cpu'], region: undefined, selfMetrics: false })
    expect({ ...s.statsdUnits }).toEqual({ A: 'Bytes' })
  })

  it('the pipeline\'s settings have its own flags and the shared ones', () => {
    const p = resolveSettings(kPipelineSettings, { port: '0', container: ['http://a'] }, {})
    expectTypeOf(p).toEqualTypeOf<PipelineSettings>()
    expectTypeOf(p).toEqualTypeOf<SettingsOf<typeof kPipelineSettings>>()
    expectTypeOf(p.port).toEqualTypeOf<number>()
    expectTypeOf(p.container).toEqualTypeOf<string[]>()
    expectTypeOf(p.graceMs).toEqualTypeOf<number>()
    expectTypeOf(p).not.toHaveProperty('httpPort')
    expect(p).toMatchObject({ port: 0, container: ['http://a'], graceMs: kDefaults.gracePeriodMs, namespace: 'minutely/SageMaker' })
  })

  it('secret settings are found by the table, whatever their key', () => {
    expect(secretValues(kSidecarSettings, resolveSettings(kSidecarSettings, { 'auth-token': 'tok-123' }, {}))).toEqual(['tok-123'])
    expect(secretValues(kSidecarSettings, resolveSettings(kSidecarSettings, {}, {}))).toEqual([])
  })
})

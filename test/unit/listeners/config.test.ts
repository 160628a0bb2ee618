/** The listener settings of the sidecar: ports (or off), the StatsD unit map, the --config file. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { helpText, kSettings, resolveSettings } from '../../../src/cli/config.js'
import { defaultIngestThreads } from '../../../src/cli/sidecar.js'

describe('listener settings', () => {
  it('defaults: StatsD on 8125, EMF on 25888, threads automatic', () => {
    const s = resolveSettings(kSettings, {}, {})
    expect(s).toMatchObject({ statsdPort: 8125, emfPort: 25888, ingestThreads: 0, statsdUnits: {}, udpRecvBufferBytes: 16 * 2 ** 20, maxDatagramBytes: 65535 })
    expect(s.statsdSocket).toBeUndefined()
  })

  it('ports take a number, 0, or off; flags win over the environment', () => {
    expect(resolveSettings(kSettings, { 'statsd-port': '0', 'emf-port': 'off' }, {})).toMatchObject({ statsdPort: 0, emfPort: false })
    expect(resolveSettings(kSettings, {}, { MINUTELY_STATSD_PORT: 'OFF', MINUTELY_EMF_PORT: '9999' })).toMatchObject({ statsdPort: false, emfPort: 9999 })
    expect(resolveSettings(kSettings, { 'statsd-port': '1234' }, { MINUTELY_STATSD_PORT: 'off' })).toMatchObject({ statsdPort: 1234 })
    expect(() => resolveSettings(kSettings, { 'statsd-port': '70000' }, {})).toThrow(/--statsd-port must be a port 0\.\.65535 \(0: any free port\) or off/)
    expect(() => resolveSettings(kSettings, {}, { MINUTELY_EMF_PORT: 'tcp' })).toThrow(/MINUTELY_EMF_PORT must be a port/)
  })

  it('--statsd-units maps metric names to CloudWatch units and names a bad unit', () => {
    const s = resolveSettings(kSettings, { 'statsd-units': 'ModelLatency=Microseconds, OverheadLatency = Microseconds,Bytes=Bytes' }, {})
    expect({ ...s.statsdUnits as object }).toEqual({ ModelLatency: 'Microseconds', OverheadLatency: 'Microseconds', Bytes: 'Bytes' })
    expect(() => resolveSettings(kSettings, { 'statsd-units': 'ModelLatency=us' }, {})).toThrow(/"us" \(for ModelLatency\) is not a CloudWatch unit/)
    expect(() => resolveSettings(kSettings, { 'statsd-units': 'ModelLatency' }, {})).toThrow(/expected Name=Unit pairs/)
  })

  it('--config: a JSON file keyed by flag name, below flags and variables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'minutely-config-'))
    try {
      const file = join(dir, 'minutely.json')
      writeFileSync(file, JSON.stringify({ 'statsd-units': { ModelLatency: 'Microseconds' }, 'emf-port': 'off', 'statsd-port': 9125, 'ingest-threads': 2 }))
      const s = resolveSettings(kSettings, { config: file, 'statsd-port': '7125' }, {})
      expect(s).toMatchObject({ statsdPort: 7125, emfPort: false, ingestThreads: 2 })
      expect({ ...s.statsdUnits as object }).toEqual({ ModelLatency: 'Microseconds' })
      expect(resolveSettings(kSettings, {}, { MINUTELY_CONFIG: file })).toMatchObject({ statsdPort: 9125 })
      writeFileSync(file, JSON.stringify({ 'statsd-prot': 1 }))
      expect(() => resolveSettings(kSettings, { config: file }, {})).toThrow(/unknown setting "statsd-prot"/)
      writeFileSync(file, '{nope')
      expect(() => resolveSettings(kSettings, { config: file }, {})).toThrow(/--config .*minutely\.json/)
      expect(() => resolveSettings(kSettings, { config: join(dir, 'missing.json') }, {})).toThrow(/ENOENT/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('--help lists the listener flags', () => {
    const h = helpText('sidecar', '', kSettings)
    for (const f of ['--statsd-port <port|off>', '--statsd-socket', '--statsd-units <k=v,...>', '--emf-port <port|off>', '--ingest-threads', '--config']) expect(h).toContain(f)
  })

  it('ingest threads: one per core beyond the event loop\'s, 1..4', () => {
    expect([1, 2, 3, 4, 8, 64].map(defaultIngestThreads)).toEqual([1, 1, 2, 3, 4, 4])
  })
})

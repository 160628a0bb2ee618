/**
 * The StatsD parser's lookup tables (names and tag strings, hashed on a sample of their
 * characters): strings that hash alike must never be confused, and a full table is harmless.
 */
import { describe, expect, it } from 'vitest'
import { parseStatsd, type StatsdParseOptions } from '../../../src/ingest/statsd.js'
import { RecordingReceiver } from '../../helpers/recording-receiver.js'

describe('parseStatsd lookup tables', () => {
  it('tag strings and names that differ only in unsampled characters stay apart', () => {
    // Length 40: the hash reads characters 0-3, 10-13, 20-23 and 36-39; these differ at 7 only.
    const t1 = 'EnAAAAAxAAAAAAAAAAAAAAAAAAAAAAAAAAAA:one'
    const t2 = 'EnAAAAAyAAAAAAAAAAAAAAAAAAAAAAAAAAAA:one'
    expect(t1.length).toBe(40)
    const n1 = 'Metric_0123456789_ab_x_longname'
    const n2 = 'Metric_0123456789_ab_y_longname'
    const options: StatsdParseOptions = { units: { [n1]: 'Seconds' } }
    const r = new RecordingReceiver()
    const lines: string[] = []
    for (let i = 0; i < 50; i++) lines.push(`${n1}:${i}|ms|#${t1}`, `${n2}:${i}|ms|#${t2}`, `${n1}:${i}|ms|#${t2}`)
    parseStatsd(lines.join('\n'), r, options)
    parseStatsd(lines.join('\n'), r, options)   // a second datagram: everything from the tables
    expect(r.rejects).toEqual([])
    expect(r.samples.length).toBe(300)
    for (let i = 0; i < r.samples.length; i++) {
      const s = r.samples[i]
      const which = i % 3
      expect(s.metric).toBe(which === 1 ? n2 : n1)
      expect(s.unit).toBe(which === 1 ? 'Milliseconds' : 'Seconds')
      expect(s.dimensions).toEqual(which === 0 ? { [t1.split(':')[0]]: 'one' } : { [t2.split(':')[0]]: 'one' })
    }
  })

  it('more distinct names and tags than the tables and caches hold are all parsed right', () => {
    const options: StatsdParseOptions = { tagCacheSize: 100, nameCacheSize: 100 }
    const r = new RecordingReceiver()
    const lines: string[] = []
    for (let i = 0; i < 5000; i++) lines.push(`m${i % 3000}:${i}|c|#k:v${i % 2500}`)
    parseStatsd(lines.join('\n'), r, options)
    expect(r.rejects).toEqual([])
    expect(r.samples.map(s => [s.metric, s.value, s.dimensions?.k])).toEqual(lines.map((_, i) => [`m${i % 3000}`, i, `v${i % 2500}`]))
  })

  it('with caching off (cache sizes 0) every line is still parsed right', () => {
    const options: StatsdParseOptions = { tagCacheSize: 0, nameCacheSize: 0 }
    const r = new RecordingReceiver()
    parseStatsd('a:1|c|#k:v\na:2|c|#k:v\nb:3|c|#k:w', r, options)
    expect(r.samples.map(s => [s.metric, s.value, s.dimensions])).toEqual([['a', 1, { k: 'v' }], ['a', 2, { k: 'v' }], ['b', 3, { k: 'w' }]])
  })
})

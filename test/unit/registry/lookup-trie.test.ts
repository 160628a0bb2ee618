import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LookupTrie } from '../../../src/registry/lookup-trie.js'

/** What the trie stands in for: the canonical key of a call. */
const keyOf = (metric: string, unit: string | undefined, ns: string | undefined, dims: Record<string, string> | undefined): string =>
  JSON.stringify([metric, unit ?? 'None', ns ?? 'Default', Object.entries(dims ?? {}).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)])

describe('LookupTrie', () => {
  it('finds what was inserted, by any key order, and nothing else', () => {
    const t = new LookupTrie<string>()
    t.insert('M', undefined, undefined, { A: '1', B: '2' }, 'x')
    t.insert('M', undefined, undefined, { B: '2', A: '1' }, 'x')
    expect(t.lookup('M', undefined, undefined, { A: '1', B: '2' })).toBe('x')
    expect(t.lookup('M', undefined, undefined, { B: '2', A: '1' })).toBe('x')
    expect(t.lookup('M', undefined, undefined, { A: '1' })).toBeUndefined()
    expect(t.lookup('M', 'Count', undefined, { A: '1', B: '2' })).toBeUndefined()
    expect(t.lookup('N', undefined, undefined, { A: '1', B: '2' })).toBeUndefined()
    expect(t.size).toBe(1)
  })

  it('a metric that is not a string misses, whatever was looked up before (the metric memo starts empty)', () => {
    const t = new LookupTrie<string>()
    expect(t.lookup(undefined as never, undefined, undefined, {})).toBeUndefined()
    t.insert('M', undefined, undefined, undefined, 'x')
    expect(t.lookup('M', undefined, undefined, undefined)).toBe('x')
    expect(t.lookup(undefined as never, undefined, undefined, undefined)).toBeUndefined()
    t.forget('x')
    expect(t.lookup('M', undefined, undefined, undefined)).toBeUndefined()   // the memo went with the node
  })

  it('forget() unhooks every path, keeps longer paths through a shared prefix, and leaves no memo behind', () => {
    const t = new LookupTrie<string>()
    const long = { Host: 'h', Zone: 'z' }
    const short = { Host: 'h' }
    t.insert('M', undefined, undefined, long, 'long')
    t.insert('M', undefined, undefined, short, 'short')
    for (let i = 0; i < 3; i++) { expect(t.lookup('M', undefined, undefined, short)).toBe('short') }   // memoized
    t.forget('short')
    expect(t.lookup('M', undefined, undefined, short)).toBeUndefined()
    expect(t.lookup('M', undefined, undefined, { Host: 'h' })).toBeUndefined()
    expect(t.lookup('M', undefined, undefined, long)).toBe('long')
    t.insert('M', undefined, undefined, { Host: 'h' }, 'again')
    expect(t.lookup('M', undefined, undefined, short)).toBe('again')
    t.forget('long'); t.forget('again')
    expect(t.size).toBe(0)
  })

  it('the object memo follows a mutated dims object', () => {
    const t = new LookupTrie<string>()
    t.insert('M', undefined, undefined, { Host: 'a' }, 'a')
    t.insert('M', undefined, undefined, { Host: 'b' }, 'b')
    const d: Record<string, string> = { Host: 'a' }
    for (let i = 0; i < 3; i++) expect(t.lookup('M', undefined, undefined, d)).toBe('a')
    d.Host = 'b'
    expect(t.lookup('M', undefined, undefined, d)).toBe('b')
    d.Extra = 'x'
    expect(t.lookup('M', undefined, undefined, d)).toBeUndefined()
    delete d.Extra
    d.Host = 'a'
    expect(t.lookup('M', undefined, undefined, d)).toBe('a')
  })

  it('agrees with Maps keyed by the canonical key and by the path, through inserts, lookups, mutations and forgets', () => {
    // Few names and values, so that paths share nodes and memos, and forgotten paths are taken again.
    const dimsArb = fc.dictionary(fc.constantFrom('A', 'B'), fc.constantFrom('1', '2', '3'), { maxKeys: 2 })
    const op = fc.oneof(
      { weight: 8, arbitrary: fc.record({ kind: fc.constant('call' as const), metric: fc.constantFrom('M', 'M', 'N'), unit: fc.constantFrom(undefined, undefined, 'Count'), slot: fc.nat(2), how: fc.constantFrom('reuse', 'reuse', 'mutate', 'fresh'), dims: dimsArb }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('forget' as const), pick: fc.nat(50) }) })
    fc.assert(fc.property(fc.array(op, { minLength: 100, maxLength: 200 }), ops => {
      const t = new LookupTrie<string>()
      const byKey = new Map<string, string>()    // canonical key → value (what the registry would answer)
      const byPath = new Map<string, string>()   // the path as the call spells it → value
      const slots: Array<Record<string, string>> = [{ A: '1' }, { A: '1' }, { B: '2', A: '1' }]
      let next = 0
      for (const o of ops) {
        if (o.kind === 'forget') {
          const values = [...new Set(byKey.values())]
          if (values.length === 0) continue
          const v = values[o.pick % values.length]
          t.forget(v)
          for (const m of [byKey, byPath]) for (const [k, x] of m) if (x === v) m.delete(k)
          continue
        }
        let d = slots[o.slot]
        if (o.how === 'mutate') { for (const k of Object.keys(d)) delete d[k]; Object.assign(d, o.dims) }
        if (o.how === 'fresh') { d = { ...o.dims }; slots[o.slot] = d }
        const path = JSON.stringify([o.metric, o.unit, Object.entries(d)])
        const key = keyOf(o.metric, o.unit, undefined, d)
        const got = t.lookup(o.metric, o.unit, undefined, d)
        // A path inserted and not forgotten is found, and nothing else is: never a stale value, never a miss that sticks.
        expect(got).toBe(byPath.get(path))
        if (got === undefined) {
          const v = byKey.get(key) ?? `v${next++}`
          t.insert(o.metric, o.unit, undefined, d, v)
          byKey.set(key, v)
          byPath.set(path, v)
        }
      }
    }), { numRuns: 300 })
  })
})

import { describe, expect, it } from 'vitest'
import { MinuteStore } from '../../../src/store/minute-store.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)
const M = 60_000

describe('MinuteStore', () => {
  it('keeps one histogram per minute and key; takes due minutes oldest first, never the open one', () => {
    const s = new MinuteStore<string>(6)
    s.histogram(T0 + M, 'a', false).add(2, 1)
    s.histogram(T0, 'a', false).add(1, 1)
    s.histogram(T0, 'a', false).add(1, 1)
    s.histogram(T0, 'b', false).add(1, 1)
    expect(s.openMinutes).toBe(2)
    const taken = s.takeDue(T0 + M, T0 + M)   // minute T0+M has not ended: it stays
    expect(taken.map(t => [t.periodStart, t.late, [...t.histograms.keys()]])).toEqual([[T0, false, ['a', 'b']]])
    expect(taken[0].histograms.get('a')!.count).toBe(2)
    expect(s.openStarts()).toEqual([T0 + M])
  })

  it('samples of a sealed minute become late deltas, taken at the next seal; the open minute is never late', () => {
    const s = new MinuteStore<string>(6)
    s.histogram(T0, 'a', false).add(1, 1)
    s.takeDue(T0 + 30_000, T0 + M)
    expect(s.isLate(T0, T0 + M)).toBe(true)
    expect(s.isLate(T0 + M, T0 + M)).toBe(false)
    expect(s.isLate(T0 - M, T0 + M)).toBe(true)
    s.histogram(T0, 'a', true).add(5, 1)
    const taken = s.takeDue(T0 + 30_000, T0 + M)
    expect(taken.map(t => [t.periodStart, t.late])).toEqual([[T0, true]])
    expect(s.late.size).toBe(0)
  })

  it('takeAll takes the open minute too, then the late deltas', () => {
    const s = new MinuteStore<string>(6)
    s.histogram(T0 + M, 'a', false).add(1, 1)
    s.histogram(T0 - M, 'a', true).add(1, 1)
    expect(s.takeAll().map(t => [t.periodStart, t.late])).toEqual([[T0 + M, false], [T0 - M, true]])
    expect(s.openMinutes).toBe(0)
  })
})

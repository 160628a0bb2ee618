import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkCount, checkTimestamp, checkValue, inRange, kPastMarginMs, nonNumberReason } from '../../../src/samples/checks.js'
import { quote, show } from '../../../src/samples/show.js'
import { kMaxFutureMs, kMaxPastMs } from '../../../src/limits.js'

describe('the sample checks', () => {
  it.each([
    [0, null], [-0, null], [1, null], [-1.5, null], [2 ** 360, null], [-(2 ** 360), null], [2 ** -360, null],
    [Number.NaN, 'not_a_number'], ['5', 'not_a_number'], [undefined, 'not_a_number'],
    [Infinity, 'not_finite'], [-Infinity, 'not_finite'],
    [2 ** 361, 'value_out_of_range'], [2 ** -361, 'value_out_of_range'], [-(2 ** -400), 'value_out_of_range'],
  ])('checkValue(%s) → %s', (v, reason) => {
    expect(checkValue(v)?.reason ?? null).toBe(reason)
  })

  it('inRange (the comparison the hot paths inline) agrees with checkValue on every double', () => {
    fc.assert(fc.property(fc.double(), v => {
      expect(inRange(v)).toBe(checkValue(v) === null)
      const r = nonNumberReason(v)
      if (r !== undefined) expect(checkValue(v)?.reason).toBe(r)
    }), { numRuns: 2000 })
  })

  it('weights must be positive and finite', () => {
    expect(checkCount(1)).toBeNull()
    expect(checkCount(0.3)).toBeNull()
    for (const c of [0, -1, Number.NaN, Infinity, '2']) expect(checkCount(c)?.reason).toBe('count_invalid')
    expect(checkCount(0)?.message).toMatch(/count 0 must be a positive finite number/)
  })

  it('timestamps: 2 weeks back less the publishing margin, 2 hours ahead', () => {
    const now = Date.UTC(2026, 10, 25, 12)
    expect(checkTimestamp(now, now)).toBeNull()
    expect(checkTimestamp(now - kMaxPastMs + kPastMarginMs, now)).toBeNull()
    expect(checkTimestamp(now - kMaxPastMs + kPastMarginMs - 1, now)?.reason).toBe('timestamp_too_old')
    expect(checkTimestamp(now + kMaxFutureMs, now)).toBeNull()
    expect(checkTimestamp(now + kMaxFutureMs + 1, now)?.message).toMatch(/more than 2 hours ahead/)
    expect(checkTimestamp(Number.NaN, now)?.reason).toBe('timestamp_invalid')
    expect(checkTimestamp('today', now)?.message).toMatch(/got "today"/)
  })
})

describe('show', () => {
  it('never calls user code and cuts long text', () => {
    const hostile = { toString () { throw new Error('no') }, toJSON () { throw new Error('no') } }
    expect(show(hostile)).toBe('an object')
    expect(show([1, 2, 3])).toBe('an array of 3')
    expect(show('x'.repeat(100), 20)).toBe(JSON.stringify('x'.repeat(17) + '...'))
    expect(quote('a\u0001b')).toBe('"a\\u0001b"')
    expect(quote('0123456789', 5, 2, 9)).toBe('"23..."')
  })
})

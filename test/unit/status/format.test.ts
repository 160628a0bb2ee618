import { describe, expect, it } from 'vitest'
import { formatAge, formatNumber, formatValue } from '../../../src/status/format.js'

describe('formatValue', () => {
  it.each([
    [1234, 'Microseconds', '1.23 ms'],
    [999, 'Microseconds', '999 µs'],
    [12.5, 'Microseconds', '12.5 µs'],
    [180_000, 'Microseconds', '180 ms'],
    [2_500_000, 'Microseconds', '2.50 s'],
    [0, 'Microseconds', '0 s'],
    [0.25, 'Milliseconds', '250 µs'],
    [42, 'Milliseconds', '42.0 ms'],
    [300, 'Seconds', '5.00 min'],
    [37.25, 'Percent', '37.3%'],
    [150, 'Percent', '150%'],
    [0.5, 'Percent', '0.500%'],
    [512, 'Bytes', '512 B'],
    [2048, 'Bytes', '2.00 KiB'],
    [5 * 1024 ** 2, 'Bytes', '5.00 MiB'],
    [3, 'Count', '3'],
    [12_345, 'Count', '12.3k'],
    [2_500_000, 'None', '2.50M'],
    [0.25, 'None', '0.250'],
    [10, 'Count/Second', '10.0 /s'],
    [3, 'Megabits/Second', '3.00 Mbit/s'],
    [-1500, 'Microseconds', '-1.50 ms'],
  ])('%d %s → %s', (v, unit, text) => {
    expect(formatValue(v, unit)).toBe(text)
  })

  it('shows a dash for what is not a finite number', () => {
    expect(formatValue(NaN, 'Count')).toBe('–')
    expect(formatValue(Infinity, 'Percent')).toBe('–')
    expect(formatValue(null as unknown as number, 'Percent')).toBe('–')
  })

  it('is self-contained, so that the page can embed its source', () => {
    // The page evaluates the functions' source text in the browser: no free variables allowed.
    for (const fn of [formatNumber, formatValue, formatAge]) {
      const copy = new Function(`${fn.toString()}; return ${fn.name}`)() as typeof fn
      expect(copy.name).toBe(fn.name)
    }
    const fv = new Function(`${formatValue.toString()}; return formatValue`)() as typeof formatValue
    expect(fv(1234, 'Microseconds')).toBe(formatValue(1234, 'Microseconds'))
    expect(fv(2048, 'Bytes')).toBe('2.00 KiB')
  })
})

describe('formatNumber and formatAge', () => {
  it('formats numbers compactly', () => {
    expect(formatNumber(0)).toBe('0')
    expect(formatNumber(950)).toBe('950')
    expect(formatNumber(12_345)).toBe('12.3k')
    expect(formatNumber(1_234_567)).toBe('1.23M')
    expect(formatNumber(3.14159)).toBe('3.14')
  })
  it('formats ages', () => {
    expect(formatAge(250)).toBe('250 ms')
    expect(formatAge(4_200)).toBe('4.2 s')
    expect(formatAge(45_000)).toBe('45 s')
    expect(formatAge(300_000)).toBe('5.0 min')
    expect(formatAge(3 * 3600_000)).toBe('3.0 h')
    expect(formatAge(NaN)).toBe('–')
  })
})

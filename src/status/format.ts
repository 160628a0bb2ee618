/**
 * Number formatting for the status page. The functions here are self-contained (no imports,
 * no module-level state) because the page embeds their source (`fn.toString()`): the browser
 * and the tests format with the very same code, so a test can compare the page's text with
 * `formatValue(aggregatorValue, unit)` exactly.
 */

/** A compact number: 3 significant digits, k/M/G/T above 10,000. */
export function formatNumber (v: number): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–'
  const a = Math.abs(v)
  if (a === 0) return '0'
  if (a >= 1e13) return (v / 1e12).toFixed(0) + 'T'
  if (a >= 1e12) return (v / 1e12).toFixed(2) + 'T'
  if (a >= 1e10) return (v / 1e9).toFixed(1) + 'G'
  if (a >= 1e9) return (v / 1e9).toFixed(2) + 'G'
  if (a >= 1e7) return (v / 1e6).toFixed(1) + 'M'
  if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M'
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k'
  if (Number.isInteger(v)) return String(v)
  if (a >= 100) return v.toFixed(0)
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  if (a >= 0.001) return v.toPrecision(3)
  return v.toExponential(2)
}

/**
 * A value with its CloudWatch unit, scaled to read well: time units as ns/µs/ms/s/min,
 * Percent as %, Bytes as B/KiB/MiB/GiB, other units as a number and a short unit name.
 */
export function formatValue (v: number, unit: string): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–'
  const num = (x: number): string => {
    const a = Math.abs(x)
    if (a === 0) return '0'
    if (a >= 100) return x.toFixed(0)
    if (a >= 10) return x.toFixed(1)
    if (a >= 1) return x.toFixed(2)
    if (a >= 0.001) return x.toPrecision(3)
    return x.toExponential(2)
  }
  const seconds = unit === 'Microseconds' ? v / 1e6 : unit === 'Milliseconds' ? v / 1e3 : unit === 'Seconds' ? v : NaN
  if (seconds === seconds) {
    const a = Math.abs(seconds)
    if (a === 0) return '0 s'
    if (a >= 120) return num(seconds / 60) + ' min'
    if (a >= 1) return num(seconds) + ' s'
    if (a >= 1e-3) return num(seconds * 1e3) + ' ms'
    if (a >= 1e-6) return num(seconds * 1e6) + ' µs'
    return num(seconds * 1e9) + ' ns'
  }
  if (unit === 'Percent') return num(v) + '%'
  if (unit === 'Bytes') {
    const a = Math.abs(v)
    if (a >= 1024 ** 3) return num(v / 1024 ** 3) + ' GiB'
    if (a >= 1024 ** 2) return num(v / 1024 ** 2) + ' MiB'
    if (a >= 1024) return num(v / 1024) + ' KiB'
    return num(v) + ' B'
  }
  const short: Record<string, string> = {
    Kilobytes: 'kB', Megabytes: 'MB', Gigabytes: 'GB', Terabytes: 'TB',
    Bits: 'bit', Kilobits: 'kbit', Megabits: 'Mbit', Gigabits: 'Gbit', Terabits: 'Tbit',
    'Bytes/Second': 'B/s', 'Kilobytes/Second': 'kB/s', 'Megabytes/Second': 'MB/s', 'Gigabytes/Second': 'GB/s', 'Terabytes/Second': 'TB/s',
    'Bits/Second': 'bit/s', 'Kilobits/Second': 'kbit/s', 'Megabits/Second': 'Mbit/s', 'Gigabits/Second': 'Gbit/s', 'Terabits/Second': 'Tbit/s',
    'Count/Second': '/s',
  }
  if (unit === 'Count' || unit === 'None' || short[unit] === undefined) {
    const a = Math.abs(v)
    if (a >= 1e4) {
      if (a >= 1e12) return (v / 1e12).toFixed(2) + 'T'
      if (a >= 1e9) return (v / 1e9).toFixed(2) + 'G'
      if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M'
      return (v / 1e3).toFixed(1) + 'k'
    }
    return Number.isInteger(v) ? String(v) : num(v)
  }
  return num(v) + ' ' + short[unit]
}

/** A duration in milliseconds, for ages ("12 s", "3.5 min", "2.0 h"). */
export function formatAge (ms: number): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–'
  const s = Math.max(0, ms) / 1000
  if (s < 1) return Math.round(s * 1000) + ' ms'
  if (s < 120) return s.toFixed(s < 10 ? 1 : 0) + ' s'
  if (s < 7200) return (s / 60).toFixed(1) + ' min'
  if (s < 172800) return (s / 3600).toFixed(1) + ' h'
  return (s / 86400).toFixed(1) + ' d'
}

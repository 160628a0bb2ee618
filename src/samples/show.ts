/**
 * How a value appears in a rejection message: the one helper every stage uses, so that a
 * message never calls user code (a toString, a toJSON or a getter that throws must not make
 * record() throw), never carries raw control characters, and stays short.
 */

/** Characters of a string shown in a message before it is cut. */
export const kShowMax = 60

/**
 * `s[a, b)` quoted as JSON (control characters escaped), cut to `max` characters with "...".
 * Slices before it escapes, so quoting the start of a long datagram costs no copy of it.
 */
export function quote (s: string, max = kShowMax, a = 0, b = s.length): string {
  if (b > s.length) b = s.length
  return JSON.stringify(b - a > max ? s.slice(a, a + max - 3) + '...' : s.slice(a, b))
}

/** Any value as text for a message, whatever it is, cut to about `max` characters. */
export function show (x: unknown, max = kShowMax): string {
  switch (typeof x) {
    case 'string': return quote(x, max)
    case 'number': case 'boolean': case 'bigint': case 'undefined': {
      const s = String(x)
      return s.length > max ? s.slice(0, max - 3) + '...' : s
    }
    case 'symbol': return 'a symbol'
    case 'function': return 'a function'
    default: return x === null ? 'null' : Array.isArray(x) ? `an array of ${x.length}` : 'an object'
  }
}

/** A metric name for messages: itself when it is a string, else what it is (`metric undefined`). */
export function nameOf (metric: unknown): string {
  return typeof metric === 'string' ? (metric.length > 80 ? metric.slice(0, 80) + '…' : metric) : `metric ${show(metric)}`
}

/** An ISO time for messages; epoch numbers Date cannot represent are shown as numbers. */
export function iso (t: number): string {
  const d = new Date(t)
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString()
}

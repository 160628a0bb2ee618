/**
 * A value as text for an error message, whatever it is: never calls user code (a toString,
 * a toJSON or a getter that throws must not make record() throw), cut to `max` characters.
 */
export function show (x: unknown, max = 60): string {
  let s: string
  switch (typeof x) {
    case 'string': s = JSON.stringify(x.length > max ? x.slice(0, max) + '…' : x); break
    case 'number': case 'boolean': case 'bigint': case 'undefined': s = String(x); break
    case 'symbol': s = 'a symbol'; break
    case 'function': s = 'a function'; break
    default: s = x === null ? 'null' : Array.isArray(x) ? 'an array' : 'an object'
  }
  return s.length > max + 2 ? s.slice(0, max) + '…' : s
}

/** A metric name for messages: itself when it is a string, else what it is (`metric undefined`). */
export function nameOf (metric: unknown): string {
  return typeof metric === 'string' ? (metric.length > 80 ? metric.slice(0, 80) + '…' : metric) : `metric ${show(metric)}`
}

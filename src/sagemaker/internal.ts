/**
 * Small helpers shared by the SageMaker layer. Not part of the public API (the barrel
 * `index.ts` does not re-export them). Option errors are `invalidOption` of `../errors.ts`,
 * as everywhere else.
 */

/** A short, safe rendering of a bad value for an error message (never the whole object). */
export function describe (v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? v.slice(0, 80) + '…' : v)
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === null || v === undefined) return String(v)
  if (Array.isArray(v)) return 'an array'
  return `a ${typeof v}`
}

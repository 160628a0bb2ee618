/** A strict-enough parser of the Prometheus text format, for the self-metrics tests. */
import { expect } from 'vitest'

/** Parses an exposition strictly enough to catch format mistakes: name{labels} value, HELP/TYPE first, no duplicates. */
export function parseExposition (text: string): Map<string, number> {
  expect(text.endsWith('\n')).toBe(true)
  const out = new Map<string, number>()
  const typed = new Set<string>()
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) continue
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|untyped)$/.exec(line)
    if (t !== null) { expect(typed.has(t[1])).toBe(false); typed.add(t[1]); continue }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(line)
    expect(m, `bad line: ${line}`).not.toBeNull()
    const family = m![1].replace(/_(bucket|sum|count)$/, '')
    expect(typed.has(m![1]) || typed.has(family), `no TYPE before ${line}`).toBe(true)
    const key = m![1] + (m![2] ?? '')
    expect(out.has(key), `duplicate ${key}`).toBe(false)
    out.set(key, Number(m![3].replace('+Inf', 'Infinity')))
  }
  return out
}

/**
 * Typos in option names: every public factory that takes an options object refuses a name it
 * does not know, naming the closest valid one (or listing them all when none is close); the CLI
 * uses the same closest-name rule for MINUTELY_* variables, flags and `--config` keys.
 */
import { ConfigError } from './errors.js'

/**
 * Every option name of `T`, each exactly once: a literal of this type fails to compile when an
 * option is added to `T` and not to the list (or listed and not in `T`), so the runtime list
 * cannot drift from the interface.
 */
export type OptionNames<T> = { readonly [K in keyof Required<T>]: true }

/** The names of an {@link OptionNames} literal, frozen. */
export function optionNames<T> (names: OptionNames<T>): readonly string[] {
  return Object.freeze(Object.keys(names))
}

/**
 * Optimal string alignment distance (Levenshtein plus adjacent transpositions, each edit
 * costing 1), case-insensitive: `maxseries`, `maxSeires` and `maxSeriess` are all one edit
 * from `maxSeries`.
 */
export function editDistance (a: string, b: string): number {
  a = a.toLowerCase()
  b = b.toLowerCase()
  if (a === b) return 0
  const n = b.length
  let prev2 = new Array<number>(n + 1).fill(0)
  let prev = Array.from({ length: n + 1 }, (_, j) => j)
  let cur = new Array<number>(n + 1).fill(0)
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i
    for (let j = 1; j <= n; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1
      let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if (i > 1 && j > 1 && a.charCodeAt(i - 1) === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === b.charCodeAt(j - 1)) d = Math.min(d, prev2[j - 2] + 1)
      cur[j] = d
    }
    const t = prev2; prev2 = prev; prev = cur; cur = t
  }
  return prev[n]
}

/**
 * The candidate closest to `name`, when it is close enough to be a typo of it: at most one edit
 * per three characters of `name` (at least one edit), so `maxSeriess` finds `maxSeries` while
 * `bogusOption` finds nothing; or a candidate that `name` (4 characters or more) begins, as
 * `nvidiaSmi` begins `nvidiaSmiPath`. Ties go to the earlier candidate.
 */
export function closestName (name: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(name.length / 3))
  const lower = name.toLowerCase()
  let best: string | undefined
  let bestDistance = Infinity
  for (const c of candidates) {
    let d = editDistance(name, c)
    if (d > limit && lower.length >= 4 && c.toLowerCase().startsWith(lower)) d = limit
    if (d < bestDistance) { best = c; bestDistance = d }
  }
  return bestDistance <= limit ? best : undefined
}

/**
 * Throws a {@link ConfigError} (`METRICS_ERR_UNKNOWN_OPTION`) for the first own key of `options`
 * that is not in `names`: `options.maxSeriess is not an option of createAggregator; did you
 * mean maxSeries?`, or the list of options when no name is close. `path` names the object
 * (`options.collect` for a nested one).
 */
export function checkOptionNames (options: object, names: readonly string[], where: string, path = 'options'): void {
  if (options === null || typeof options !== 'object') throw new ConfigError(`${path} of ${where} must be an object`, 'METRICS_ERR_INVALID_OPTION')
  for (const key of Object.keys(options)) {
    if (names.includes(key)) continue
    const near = closestName(key, names)
    const hint = near !== undefined ? `did you mean ${near}?` : `the options are ${names.join(', ')}`
    throw new ConfigError(`${path}.${key} is not an option of ${where}; ${hint}`, 'METRICS_ERR_UNKNOWN_OPTION')
  }
}

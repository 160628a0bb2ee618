import type { MetricsErrorCode } from '../errors.js'

/** Receives warnings: rejected samples, failed requests, clamped options. */
export type WarningListener = (message: string, code: MetricsErrorCode | string) => void

/**
 * Rate-limited warnings: at most one per key per interval, with how many were suppressed,
 * so a flood of bad samples cannot flood the log.
 */
export class Warner {
  readonly #intervalMs: number
  readonly #now: () => number
  readonly #listener: WarningListener
  readonly #last = new Map<string, { at: number, suppressed: number }>()
  constructor (intervalMs: number, now: () => number, listener?: WarningListener) {
    this.#intervalMs = intervalMs
    this.#now = now
    this.#listener = listener ?? ((message, code) => { process.emitWarning(message, { type: 'MinutelyWarning', code: String(code) }) })
  }

  warn (key: string, code: MetricsErrorCode | string, message: string): void {
    const now = this.#now()
    const e = this.#last.get(key)
    if (e !== undefined && now - e.at < this.#intervalMs) { e.suppressed++; return }
    const more = e !== undefined && e.suppressed > 0 ? ` (${e.suppressed} more like it since the last warning)` : ''
    if (this.#last.size > 1000) this.#last.clear()
    this.#last.set(key, { at: now, suppressed: 0 })
    try { this.#listener(message + more, code) } catch { /* a listener must not break the engine */ }
  }
}

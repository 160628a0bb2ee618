/**
 * Time comes from an injected clock, so tests never sleep: {@link ManualClock} moves time
 * and fires due timers deterministically.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now (): number
  /** Like `setTimeout`, but the timer must not keep the process alive (`unref`). */
  setTimer (fn: () => void, ms: number): unknown
  clearTimer (handle: unknown): void
}

/** The wall clock, with unref'd timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer (fn: () => void, ms: number): unknown {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimer (h: unknown): void { clearTimeout(h as NodeJS.Timeout) },
})

interface ManualTimer { at: number, seq: number, fn: () => void, cancelled: boolean }

/** A clock that moves only when told; timers fire in due order inside {@link advance}. */
export class ManualClock implements Clock {
  #now: number
  #seq = 0
  #timers: ManualTimer[] = []
  constructor (startMs = Date.UTC(2026, 0, 1)) { this.#now = startMs }
  now (): number { return this.#now }
  setTimer (fn: () => void, ms: number): unknown {
    const t: ManualTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false }
    this.#timers.push(t)
    return t
  }

  clearTimer (h: unknown): void { if (h !== undefined && h !== null) (h as ManualTimer).cancelled = true }
  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance (ms: number): void { this.set(this.#now + ms) }
  /** Moves time to `t` (never backwards), firing due timers in order. */
  set (t: number): void {
    for (;;) {
      this.#timers = this.#timers.filter(x => !x.cancelled)
      let next: ManualTimer | undefined
      for (const x of this.#timers) if (x.at <= t && (next === undefined || x.at < next.at || (x.at === next.at && x.seq < next.seq))) next = x
      if (next === undefined) break
      this.#timers.splice(this.#timers.indexOf(next), 1)
      if (next.at > this.#now) this.#now = next.at
      next.fn()
    }
    if (t > this.#now) this.#now = t
  }

  /** Number of pending timers (for tests). */
  get pendingTimers (): number { return this.#timers.filter(x => !x.cancelled).length }
}

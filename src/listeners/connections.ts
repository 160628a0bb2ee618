/**
 * The connections of a TCP listener (EMF, HTTP), kept so that slow clients cannot hold it:
 *
 * - **A cap.** At `max` connections, a new one closes the connection idle the longest to make
 *   room — idle: it has delivered nothing whole (an EMF line, an HTTP request) for
 *   {@link kIdleAfterMs} — so 256 clients trickling a byte now and then cannot lock a working
 *   client out. Only when every connection delivered something within that time is the new one
 *   refused.
 * - **Deadlines, on a timer of the listener's own.** Each connection has at most one: the EMF
 *   idle timeout, HTTP's headers and request deadlines. One interval per listener checks them
 *   every `tickMs` (a tenth of the shortest deadline, 20 ms to 1 s), so a deadline is kept to
 *   within a tick; Node's HTTP server checks its own only every 30 s.
 */
import type { Socket } from 'node:net'

/** A connection that delivered nothing whole for this long is idle: at the cap, it may be closed for a new one. */
export const kIdleAfterMs = 1000

export interface Tracked {
  readonly socket: Socket
  /** When it last delivered something whole (a line, a request), or connected. */
  doneAt: number
  /** When it must have delivered the next (epoch ms); Infinity: no deadline now. */
  deadline: number
  /** What to do at the deadline. @default close it */
  expire: (() => void) | undefined
}

export interface ConnectionStats {
  /** Connections accepted, in all. */
  connections: number
  /** New connections refused at the cap (every open one was busy). */
  connectionsRefused: number
  /** Idle connections closed at the cap to make room for a new one. */
  connectionsEvicted: number
  /** Connections closed at their deadline (idle timeout, headers or request timeout). */
  connectionsTimedOut: number
}

/** The tick for deadlines of `shortestMs`: a tenth of it, 20 ms to 1 s. */
export function tickFor (shortestMs: number): number {
  return Math.max(20, Math.min(1000, Math.floor(shortestMs / 10)))
}

export class Connections {
  readonly #all = new Map<Socket, Tracked>()
  readonly #timer: NodeJS.Timeout
  readonly stats: ConnectionStats = { connections: 0, connectionsRefused: 0, connectionsEvicted: 0, connectionsTimedOut: 0 }

  constructor (readonly max: number, readonly tickMs: number) {
    this.#timer = setInterval(() => { this.sweep(Date.now()) }, tickMs)
    this.#timer.unref()
  }

  /**
   * Takes a new connection, closing the one idle the longest when at the cap; undefined when
   * it is refused (the caller closes it). Forgotten by itself when the socket closes.
   */
  admit (socket: Socket, now = Date.now()): Tracked | undefined {
    if (this.#all.size >= this.max) {
      let victim: Tracked | undefined
      for (const t of this.#all.values()) if (now - t.doneAt >= kIdleAfterMs && (victim === undefined || t.doneAt < victim.doneAt)) victim = t
      if (victim === undefined) { this.stats.connectionsRefused++; return undefined }
      this.stats.connectionsEvicted++
      this.#forget(victim.socket)
      victim.socket.destroy()
    }
    const t: Tracked = { socket, doneAt: now, deadline: Infinity, expire: undefined }
    this.#all.set(socket, t)
    this.stats.connections++
    socket.once('close', () => { this.#forget(socket) })
    return t
  }

  get (socket: Socket): Tracked | undefined { return this.#all.get(socket) }

  /** Connections open now. */
  get size (): number { return this.#all.size }

  sockets (): IterableIterator<Socket> { return this.#all.keys() }

  /** Closes every connection past its deadline (its `expire`, or destroy). */
  sweep (now: number): void {
    for (const t of this.#all.values()) {
      if (now < t.deadline) continue
      t.deadline = Infinity
      this.stats.connectionsTimedOut++
      if (t.expire !== undefined) t.expire()
      else t.socket.destroy()
    }
  }

  stop (): void { clearInterval(this.#timer) }

  #forget (socket: Socket): void { this.#all.delete(socket) }
}

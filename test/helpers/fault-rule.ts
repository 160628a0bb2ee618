/**
 * A fault-injection rule shared by the strict test endpoints (CloudWatch metrics and Logs):
 * fault once, every n-th request, or with a seeded probability, at most `times` times.
 */

/**
 * The endpoints' seeded PRNG for `probability` faults: the project's one generator. It decides
 * which requests fail, not what the service accepts, so the fakes may share it.
 */
export { seededRandom } from '../../src/core/seeded-random.js'

export interface FaultPlanBase {
  /**
   * How many requests this rule faults at most. Default: 1 when neither `every` nor
   * `probability` is given (a one-shot fault), otherwise unlimited.
   */
  times?: number
  /** Fault every n-th request this rule sees (the n-th, 2n-th, ... since it was injected). */
  every?: number
  /** Fault each request with this probability, drawn from the endpoint's seeded RNG. */
  probability?: number
}

/** A live rule; `remove()` uninstalls it, `hits` counts the requests it faulted. */
export interface FaultHandleOf<K> {
  readonly fault: K
  readonly hits: number
  readonly seen: number
  remove(): void
}

export class FaultRule<K, P extends FaultPlanBase = FaultPlanBase> implements FaultHandleOf<K> {
  hits = 0
  seen = 0
  removed = false
  readonly limit: number
  constructor (readonly fault: K, readonly plan: P, private readonly owner: Set<FaultRule<K, P>>) {
    const oneShot = plan.every === undefined && plan.probability === undefined
    this.limit = plan.times ?? (oneShot ? 1 : Infinity)
  }

  /** Called for each request while installed; true when this rule faults it. */
  take (rand: () => number): boolean {
    if (this.removed || this.hits >= this.limit) return false
    this.seen++
    if (this.plan.every !== undefined && this.seen % this.plan.every !== 0) return false
    if (this.plan.probability !== undefined && !(rand() < this.plan.probability)) return false
    this.hits++
    if (this.hits >= this.limit) this.remove()
    return true
  }

  remove (): void {
    this.removed = true
    this.owner.delete(this)
  }
}

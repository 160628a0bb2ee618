/**
 * The sidecar's health, as `/healthz` answers it (200 ok, 503 unhealthy) and the status page
 * shows it: unhealthy while something needs a person —
 * - publishing is blocked by a permanent failure (access denied, no credentials or region:
 *   the data is kept and retried at the backoff ceiling; see `SinkError.permanent`);
 * - log delivery is blocked the same way;
 * - the disk spool cannot be written (disk full, read-only, removed) or its lock was taken by
 *   another process: sealed minutes then live in memory only and open minutes are not
 *   checkpointed, so a crash loses them;
 * - a model server it runs is down (exited, or could not be started), while it is restarted
 *   or while minutely shuts down because of it.
 * Each problem says what and since when, so the probe's body is the diagnosis.
 */
import type { Aggregator } from '../core/aggregator.js'
import { describeExit, type ManagedProcess } from '../logs/runner.js'
import type { LogShipper } from '../logs/shipper.js'

/** One reason to be unhealthy. */
export interface HealthProblem {
  /** `publish`, `spool`, `logs`, or `model-server:<name>`. */
  component: string
  message: string
  /** Since when (epoch ms on the engine's clock; the runner's wall clock for model servers). */
  since: number
}

/** What `/healthz` answers. */
export interface Health {
  status: 'ok' | 'unhealthy'
  problems: HealthProblem[]
}

/** What the health is made of; each part is optional (read at each call). */
export interface HealthSources {
  aggregator?: Aggregator
  /** The model servers and their log shipper, when any are run. */
  logs?: () => { readonly shipper: LogShipper | undefined, readonly processes: readonly ManagedProcess[] } | undefined
}

/** The health now. */
export function healthOf (src: HealthSources): Health {
  const problems: HealthProblem[] = []
  const st = src.aggregator?.stats()
  if (st !== undefined && st.blockedBy !== null) {
    problems.push({ component: 'publish', message: `publishing is blocked (the data is kept and retried): ${st.blockedBy}`, since: st.blockedSince })
  }
  if (st !== undefined && st.spoolFailure !== null) {
    problems.push({ component: 'spool', message: st.spoolFailure, since: st.spoolFailureSince })
  }
  const logs = src.logs?.()
  const ls = logs?.shipper?.stats()
  if (ls !== undefined && ls.blockedBy !== null) {
    problems.push({ component: 'logs', message: `log delivery is blocked (the lines are kept and retried): ${ls.blockedBy}`, since: ls.blockedSince })
  }
  for (const p of logs?.processes ?? []) {
    if (p.running || p.stopped || p.lastExit === undefined) continue
    const next = p.restartAt !== undefined ? `; restarting in ${Math.max(0, p.restartAt - Date.now())} ms (restart ${p.restarts + 1})` : '; not restarted'
    problems.push({ component: `model-server:${p.name}`, message: `model server ${p.name} ${describeExit(p.lastExit)}${next}`, since: p.downSince ?? Date.now() })
  }
  return { status: problems.length === 0 ? 'ok' : 'unhealthy', problems }
}

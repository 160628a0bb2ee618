/**
 * Runs the model server processes a pipeline proxy (or the sidecar) fronts, and turns what
 * they write to stdout and stderr into lines.
 *
 * Decisions:
 *
 * - **Both stdout and stderr** go to the container's one log stream, as SageMaker does. Lines
 *   of one pipe keep their order; lines of the two pipes interleave in the order they are
 *   read, which is as good as the OS tells us (two pipes have no common order).
 * - **Process group.** Each child is started in its own process group and signals go to the
 *   whole group, so a `sh -c '…'` wrapper and what it starts stop together. Ctrl-C in a
 *   terminal therefore reaches the proxy only, which stops the children in order.
 * - **Restart policy: `never` by default**, like a container entrypoint: a model server that
 *   ends (or cannot be started) is logged at error level and reported through `onExit` with
 *   `restarting: false`; the sidecar and the pipeline then publish everything and exit with
 *   {@link exitCodeOf} its ending, so that the platform that runs them (ECS, Kubernetes,
 *   systemd, SageMaker itself) replaces the whole unit, which is where restarts belong and
 *   where they are visible. Restarting inside would hide crash loops behind a healthy-looking
 *   process. `on-failure` (exit code ≠ 0, or a signal we did not send) and `always` exist for
 *   running without such a platform; they back off exponentially (1 s doubling to 30 s,
 *   reset after a minute of uptime).
 * - **Stopping:** SIGTERM to the group, then SIGKILL after `timeoutMs`; `stop()` resolves once
 *   the pipes are drained, so every line the child wrote has been handed over.
 * - If the proxy itself exits, every child still running is sent SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { constants } from 'node:os'
import { invalidOption } from '../errors.js'
import { LineSplitter } from './lines.js'

/** When a child that exited is started again. */
export type RestartPolicy = 'never' | 'on-failure' | 'always'
export const kRestartPolicies: readonly RestartPolicy[] = ['never', 'on-failure', 'always']
/** The restart policy unless told: a child that exits stays down. */
export const kDefaultRestartPolicy: RestartPolicy = 'never'
/** How long `stop()` waits between SIGTERM and SIGKILL unless told. */
export const kDefaultStopTimeoutMs = 5000

/** How a child ended: its exit code, or the signal that killed it, or why it could not be started (an errno code). */
export interface ProcessExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** Set when the program could not be started: `ENOENT`, `EACCES`… */
  error?: string
}

/** What {@link ManagedProcessOptions.onExit} learns besides the code and signal. */
export interface ExitInfo {
  /** A new child will be started (after a backoff) under the restart policy. */
  restarting: boolean
  /** The child ended because `stop()` was called. */
  stopped: boolean
  /** The exit code a shell would report for this ending ({@link exitCodeOf}). */
  exitCode: number
  /** The program could not be started (`ENOENT`, `EACCES`…). */
  error?: string
}

/**
 * The exit code a shell (and a container runtime) reports for how a child ended: its own
 * code; 128 + the signal's number when a signal killed it; 127 when the program was not
 * found and 126 when it could not be run.
 */
export function exitCodeOf (x: ProcessExit): number {
  if (x.error !== undefined) return x.error === 'ENOENT' ? 127 : 126
  if (x.signal !== null) return 128 + (constants.signals[x.signal] ?? 0)
  return x.code ?? 1
}

/** How a child ended, in words: `exited with code 3`, `was killed by SIGKILL`, `could not be started (ENOENT)`. */
export function describeExit (x: ProcessExit): string {
  if (x.error !== undefined) return `could not be started (${x.error})`
  if (x.signal !== null) return `was killed by ${x.signal}`
  return `exited with code ${String(x.code)}`
}

/** Options of {@link startProcess}. */
export interface ManagedProcessOptions {
  /** The container's name (for messages). */
  name: string
  /** The program. */
  command: string
  /** Its arguments. */
  args?: readonly string[]
  /** Environment. @default process.env */
  env?: NodeJS.ProcessEnv
  /** Working directory. @default process.cwd() */
  cwd?: string
  /** Receives every line the child writes, in order per pipe. Must not throw. */
  onLine: (line: string, from: 'stdout' | 'stderr') => void
  /** Longest line (UTF-8 bytes) before it is split. @default 262,118 */
  maxLineBytes?: number
  /** @default 'never' */
  restart?: RestartPolicy
  /** First restart delay. @default 1000 */
  restartBaseMs?: number
  /** Longest restart delay. @default 30000 */
  restartMaxMs?: number
  /** Where the runner says what it does. @default stderr */
  log?: (line: string) => void
  /** Called each time the child exits (or could not be started). */
  onExit?: (code: number | null, signal: NodeJS.Signals | null, info: ExitInfo) => void
}

/** A child process under management. */
export interface ManagedProcess {
  readonly name: string
  /** The pid of the current child (undefined before it started or after it failed to). */
  readonly pid: number | undefined
  /** True while a child runs. */
  readonly running: boolean
  /** How many times it was restarted. */
  readonly restarts: number
  /** How the last child ended. */
  readonly lastExit: ProcessExit | undefined
  /** True once `stop()` was called: the child is not expected to run any more. */
  readonly stopped: boolean
  /** When the next child is due to start (epoch ms) while a restart waits out its backoff. */
  readonly restartAt: number | undefined
  /** When the last child ended (epoch ms), until a new one runs. */
  readonly downSince: number | undefined
  /** Settles once the first child has been spawned (or failed to). */
  readonly started: Promise<void>
  /**
   * Resolves once the current child has exited and its output has been handed over (at once
   * when none runs). With a restart policy, a new child may start afterwards.
   */
  exited (): Promise<ProcessExit | undefined>
  /** Stops it (no restart), SIGKILL after `timeoutMs`; resolves once its output is drained. */
  stop (timeoutMs?: number): Promise<void>
}

const kLive = new Set<ChildProcess>()
let exitHook = false
function installExitHook (): void {
  if (exitHook) return
  exitHook = true
  process.once('exit', () => {
    for (const c of kLive) signalGroup(c, 'SIGKILL')
  })
}

function signalGroup (child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try { child.kill(signal) } catch { /* gone */ }
  }
}

/** Starts a managed child process. Never throws for a program that cannot be run: that is an exit. */
export function startProcess (options: ManagedProcessOptions): ManagedProcess {
  const log = options.log ?? ((l: string) => { process.stderr.write(l + '\n') })
  const policy = options.restart ?? kDefaultRestartPolicy
  if (!kRestartPolicies.includes(policy)) throw invalidOption(`options.restart must be one of ${kRestartPolicies.join(', ')}; got ${String(policy)}`)
  const baseMs = options.restartBaseMs ?? 1000
  const maxMs = options.restartMaxMs ?? 30_000
  installExitHook()

  let child: ChildProcess | undefined
  let running = false
  let stopping = false
  let restarts = 0
  let failures = 0
  let lastExit: ManagedProcess['lastExit']
  let restartTimer: NodeJS.Timeout | undefined
  let restartAt: number | undefined
  let downSince: number | undefined
  /** Resolves when the current child's pipes are closed. */
  let closed: Promise<void> = Promise.resolve()
  let resolveStarted!: () => void
  const started = new Promise<void>(resolve => { resolveStarted = resolve })

  function launch (): void {
    const startedAt = Date.now()
    let c: ChildProcess
    try {
      c = spawn(options.command, [...(options.args ?? [])], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: options.env ?? process.env,
        cwd: options.cwd,
        detached: true,
      })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      log(`error: container ${options.name}: cannot start ${options.command}: ${e.message}`)
      onEnded(null, null, startedAt, e.code ?? 'EINVAL')
      resolveStarted()
      return
    }
    child = c
    running = true
    downSince = undefined
    kLive.add(c)
    const out = new LineSplitter(l => { options.onLine(l, 'stdout') }, { maxLineBytes: options.maxLineBytes })
    const err = new LineSplitter(l => { options.onLine(l, 'stderr') }, { maxLineBytes: options.maxLineBytes })
    c.stdout!.on('data', (b: Buffer) => { out.push(b) })
    c.stderr!.on('data', (b: Buffer) => { err.push(b) })
    c.stdout!.on('end', () => { out.end() })
    c.stderr!.on('end', () => { err.end() })
    let spawnError: string | undefined
    closed = new Promise<void>(resolve => {
      c.once('spawn', () => {
        log(`container ${options.name}: started ${options.command} (pid ${String(c.pid)})`)
        resolveStarted()
      })
      c.once('error', (e: NodeJS.ErrnoException) => {
        if (c.pid === undefined || e.code === 'ENOENT' || e.code === 'EACCES') {
          spawnError = e.code ?? 'EINVAL'
          log(`error: container ${options.name}: cannot start ${options.command}: ${e.message}`)
          resolveStarted()
        }
      })
      c.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        out.end()
        err.end()
        kLive.delete(c)
        running = false
        onEnded(code, signal, startedAt, spawnError)
        resolve()
      })
    })
  }

  function onEnded (code: number | null, signal: NodeJS.Signals | null, startedAt: number, spawnError: string | undefined): void {
    lastExit = spawnError !== undefined ? { code, signal, error: spawnError } : { code, signal }
    downSince = Date.now()
    const failed = spawnError !== undefined || code !== 0
    const restarting = !stopping && policy !== 'never' && (policy === 'always' || failed)
    try {
      options.onExit?.(code, signal, { restarting, stopped: stopping, exitCode: exitCodeOf(lastExit), ...(spawnError !== undefined ? { error: spawnError } : {}) })
    } catch { /* a listener must not break the runner */ }
    if (stopping) return
    // Not asked to stop: whatever the code, the model server is gone, which needs attention.
    if (!restarting) {
      log(`error: container ${options.name}: ${describeExit(lastExit)} (exit status ${exitCodeOf(lastExit)}); not restarted (restart policy ${policy})`)
      return
    }
    // A healthy run (a minute up) resets the backoff.
    if (Date.now() - startedAt > 60_000) failures = 0
    const delay = Math.min(maxMs, baseMs * 2 ** Math.min(failures, 20))
    failures++
    log(`error: container ${options.name}: ${describeExit(lastExit)} (exit status ${exitCodeOf(lastExit)}); restarting in ${delay} ms (restart policy ${policy})`)
    restartAt = Date.now() + delay
    restartTimer = setTimeout(() => {
      restartTimer = undefined
      restartAt = undefined
      if (stopping) return
      restarts++
      launch()
    }, delay)
    restartTimer.unref()
  }

  launch()

  return {
    name: options.name,
    get pid () { return running ? child?.pid : undefined },
    get running () { return running },
    get restarts () { return restarts },
    get lastExit () { return lastExit },
    get stopped () { return stopping },
    get restartAt () { return restartAt },
    get downSince () { return downSince },
    started,
    async exited () {
      await started
      await closed
      return lastExit
    },
    async stop (timeoutMs = kDefaultStopTimeoutMs) {
      stopping = true
      if (restartTimer !== undefined) { clearTimeout(restartTimer); restartTimer = undefined; restartAt = undefined }
      const c = child
      if (c === undefined || !running) { await closed; return }
      signalGroup(c, 'SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const killed = await Promise.race([
        closed.then(() => false),
        new Promise<boolean>(resolve => { timer = setTimeout(() => { resolve(true) }, timeoutMs) }),
      ])
      clearTimeout(timer)
      if (!killed) return
      log(`container ${options.name}: did not stop within ${timeoutMs} ms of SIGTERM; sending SIGKILL`)
      signalGroup(c, 'SIGKILL')
      // A grandchild may hold the pipes open: do not wait for it forever.
      await Promise.race([closed, new Promise<void>(resolve => { setTimeout(resolve, 2000).unref() })])
    },
  }
}

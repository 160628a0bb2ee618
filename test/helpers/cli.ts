/**
 * The `minutely` CLI as a child process (`node dist/cli/main.js`; `npm run build` first), with
 * exactly the environment a test gives it (PATH only, plus what the test passes): nothing of
 * the developer's AWS_* or MINUTELY_* variables leaks in. `killAll()` in `afterEach` makes sure
 * a failed test leaves no child behind.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const kMain = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/main.js')

export interface CliRun { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

export interface CliChild {
  readonly child: ChildProcess
  stdout (): string
  stderr (): string
  /** Settles when the process has ended. */
  readonly closed: Promise<CliRun>
  /** Resolves with the first match of `re` in stderr; rejects if the process ends first. */
  waitFor (re: RegExp): Promise<RegExpExecArray>
}

const live = new Set<ChildProcess>()

/** SIGKILLs every child still running. */
export function killAll (): void {
  for (const c of live) c.kill('SIGKILL')
  live.clear()
}

/** Starts `minutely ...args` with `env` (and PATH). */
export function spawnCli (args: readonly string[], env: Record<string, string | undefined> = {}): CliChild {
  if (!existsSync(kMain)) throw new Error(`${kMain} is missing: run \`npm run build\` first (npm test does)`)
  const child = spawn(process.execPath, [kMain, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let stdout = ''
  let stderr = ''
  const waiters = new Set<() => void>()
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); for (const w of [...waiters]) w() })
  const closed = new Promise<CliRun>(resolve => {
    child.on('close', (code, signal) => { live.delete(child); resolve({ code, signal, stdout, stderr }); for (const w of [...waiters]) w() })
  })
  let ended = false
  void closed.then(() => { ended = true })
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    closed,
    waitFor (re) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(stderr)
          if (m !== null) { waiters.delete(check); resolve(m); return }
          if (ended || child.exitCode !== null || child.signalCode !== null) {
            waiters.delete(check)
            reject(new Error(`minutely ended (${String(child.exitCode)}/${String(child.signalCode)}) before ${String(re)}:\n${stderr}`))
          }
        }
        waiters.add(check)
        check()
      })
    },
  }
}

/** Runs `minutely ...args` to its end. */
export async function runCli (args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return await spawnCli(args, env).closed
}

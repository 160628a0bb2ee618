/**
 * Finds a headless Chromium for the browser tests, so that `npm test` runs them on any machine:
 *
 * 1. `MINUTELY_CHROMIUM=/path/to/chrome`, when set (an error if nothing is there: a path given
 *    on purpose is never silently replaced by another browser);
 * 2. a Chromium or Chrome the machine has: `/usr/bin/chromium`, `chromium-browser`,
 *    `google-chrome`, `google-chrome-stable`, then the same names on `PATH`;
 * 3. otherwise the one that comes through npm, `@sparticuz/chromium` (a devDependency): its
 *    `executablePath()` unpacks a headless Chromium into the temp directory once (~200 MB,
 *    a few seconds; later runs reuse it), and its `args` are the flags that binary needs
 *    (`--single-process`, `--no-zygote`, …).
 *
 * Never a skip: without a browser the test fails and says why.
 */
import { accessSync, constants, existsSync } from 'node:fs'
import path from 'node:path'

export interface FoundChromium {
  executablePath: string
  /** Flags for `launch()` / `launchPersistentContext()`, on top of the caller's own. */
  args: string[]
  /** Where it came from, for the test's log line. */
  source: 'MINUTELY_CHROMIUM' | 'system' | '@sparticuz/chromium'
}

const kSystemPaths = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable']
const kSystemNames = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']

function executable (file: string): boolean {
  try { accessSync(file, constants.X_OK); return true } catch { return false }
}

function onPath (name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue
    const file = path.join(dir, name)
    if (executable(file)) return file
  }
  return undefined
}

/** Resolves the Chromium the browser tests launch (see the module comment for the order). */
export async function findChromium (env: NodeJS.ProcessEnv = process.env): Promise<FoundChromium> {
  const given = env.MINUTELY_CHROMIUM
  if (given !== undefined && given !== '') {
    if (!existsSync(given)) throw new Error(`MINUTELY_CHROMIUM=${given}: no such file. Unset it to use the machine's Chromium or the one from npm (@sparticuz/chromium).`)
    return { executablePath: given, args: [], source: 'MINUTELY_CHROMIUM' }
  }
  for (const file of kSystemPaths) if (executable(file)) return { executablePath: file, args: [], source: 'system' }
  for (const name of kSystemNames) {
    const file = onPath(name, env)
    if (file !== undefined) return { executablePath: file, args: [], source: 'system' }
  }
  let mod: typeof import('@sparticuz/chromium')
  try {
    mod = await import('@sparticuz/chromium')
  } catch (err) {
    throw new Error('no Chromium on this machine and the npm one (@sparticuz/chromium, a devDependency) cannot be loaded: ' +
      `run npm ci, or set MINUTELY_CHROMIUM=/path/to/chromium (${(err as Error).message})`)
  }
  const chromium = mod.default
  return { executablePath: await chromium.executablePath(), args: chromium.args, source: '@sparticuz/chromium' }
}

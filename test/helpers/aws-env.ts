/**
 * Runs a test body under an AWS environment of its own: every `AWS_*` variable of the test
 * process removed, `HOME` a fresh temporary directory (so `~/.aws` is empty), plus the given
 * variables; everything restored afterwards. The SDK reads the environment and the shared
 * files lazily (when a client first resolves its region, credentials or endpoint), so the
 * whole body — until the last request — must run inside.
 *
 * Tests in one vitest worker share `process.env`; the bodies here run one at a time.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface AwsHome {
  /** The temporary HOME. */
  readonly dir: string
  /** Writes a file under it and returns its path. */
  file (name: string, text: string): Promise<string>
}

/** `vars` may be a function of the temporary HOME (to point AWS_CONFIG_FILE into it). */
export async function withAwsEnv<T> (vars: Record<string, string> | ((home: AwsHome) => Promise<Record<string, string>>), body: (home: AwsHome) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'minutely-aws-home-'))
  const home: AwsHome = {
    dir,
    async file (name, text) { const p = join(dir, name); await writeFile(p, text); return p },
  }
  const saved = { ...process.env }
  try {
    const extra = typeof vars === 'function' ? await vars(home) : vars
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k]
    // No instance metadata lookups: a test machine on EC2 must not lend its role to these tests.
    Object.assign(process.env, { HOME: dir, AWS_EC2_METADATA_DISABLED: 'true' }, extra)
    return await body(home)
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
    await rm(dir, { recursive: true, force: true })
  }
}

/** The package's version, read once from package.json (two levels above both src/status and dist/status); '' if unreadable. */
import { createRequire } from 'node:module'

function read (): string {
  try {
    const pkg = createRequire(import.meta.url)('../../package.json') as { name?: unknown, version?: unknown }
    return pkg.name === 'minutely' && typeof pkg.version === 'string' ? pkg.version : ''
  } catch { return '' }
}

export const kVersion = read()

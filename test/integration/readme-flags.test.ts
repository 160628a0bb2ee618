/**
 * The README's flag tables against `--help` of the built CLI: every flag of
 * `minutely sidecar --help` and `minutely pipeline --help` is in the README with the same
 * variable and default, and the README names no flag that does not exist.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { killAll, spawnCli } from '../helpers/cli.js'

const kReadme = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../README.md'), 'utf8')

interface HelpFlag { env: string, default: string | undefined }

/**
 * The flags of `minutely <command> --help`: each line `  --flag <arg>  help (default X)` is
 * followed by its variable. The default is what the line ends with in `(default X)`; a
 * `(default: …)` says where the value comes from instead, and is no default.
 */
async function helpFlags (command: string): Promise<Map<string, HelpFlag>> {
  const r = await spawnCli([command, '--help']).closed
  expect(r.code, r.stderr).toBe(0)
  const lines = r.stdout.split('\n')
  const out = new Map<string, HelpFlag>()
  lines.forEach((line, i) => {
    const m = /^ {2}--([a-z0-9-]+)/.exec(line)
    if (m === null) return
    out.set(m[1], { env: lines[i + 1].trim(), default: /\(default ([^()]*)\)$/.exec(line)?.[1] })
  })
  return out
}

interface ReadmeRow { env: string, defaultCell: string }

/** The rows of the README table whose header's first cell is `title`: flag → variable and default cell. */
function readmeTable (title: string): Map<string, ReadmeRow> {
  const lines = kReadme.split('\n')
  const at = lines.findIndex(l => l.startsWith(`| ${title} |`))
  expect(at, `a README table headed "${title}"`).toBeGreaterThan(-1)
  const out = new Map<string, ReadmeRow>()
  for (const line of lines.slice(at + 2)) {
    if (!line.startsWith('|')) break
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map(c => c.trim())
    const flag = /^`--([a-z0-9-]+)`$/.exec(cells[0])
    expect(flag, `one flag in the first cell of: ${line}`).not.toBeNull()
    expect(out.has(flag![1]), `--${flag![1]} listed once in "${title}"`).toBe(false)
    out.set(flag![1], { env: cells[1], defaultCell: cells[2] })
  }
  return out
}

/** The README's row says what --help says: the same variable, and the default in a code span first (or none). */
function expectSame (command: string, flag: string, help: HelpFlag, row: ReadmeRow | undefined): void {
  expect(row, `--${flag} of minutely ${command} is in the README`).toBeDefined()
  expect(row!.env, `--${flag}: variable`).toBe(`\`${help.env}\``)
  const claimed = /^`([^`]*)`/.exec(row!.defaultCell)?.[1]
  expect(claimed, `--${flag} of minutely ${command}: the README's default (\`${help.default ?? ''}\` first in the cell, or no code span first when --help gives none)`).toBe(help.default)
}

let sidecar: Map<string, HelpFlag>
let pipeline: Map<string, HelpFlag>

beforeAll(async () => {
  [sidecar, pipeline] = await Promise.all([helpFlags('sidecar'), helpFlags('pipeline')])
})

afterEach(() => { killAll() })

describe('README flag tables', () => {
  it('minutely sidecar: every flag of --help, with its variable and default, and no other', () => {
    const table = readmeTable('sidecar flag')
    expect(sidecar.size).toBeGreaterThan(40)
    for (const [flag, help] of sidecar) expectSame('sidecar', flag, help, table.get(flag))
    expect([...table.keys()].filter(f => !sidecar.has(f)), 'README rows of flags the sidecar does not take').toEqual([])
  })

  it('minutely pipeline: every flag of --help, in its own table or the sidecar\'s, with its variable and default', () => {
    const own = readmeTable('pipeline flag')
    const shared = readmeTable('sidecar flag')
    expect(pipeline.size).toBeGreaterThan(30)
    for (const [flag, help] of pipeline) expectSame('pipeline', flag, help, own.get(flag) ?? shared.get(flag))
    expect([...own.keys()].filter(f => !pipeline.has(f)), 'README rows of flags the pipeline does not take').toEqual([])
  })

  it('the README names no flag that does not exist', () => {
    const known = new Set([...sidecar.keys(), ...pipeline.keys(), 'help', 'version'])
    // The one deliberate exception: the example of what a mistyped flag gets.
    const text = kReadme.replace(/Unknown option '--[a-z0-9-]+'/g, '')
    const named = new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map(m => m[1]))
    expect(named.size).toBeGreaterThan(30)
    expect([...named].filter(f => !known.has(f)).sort()).toEqual([])
  })
})

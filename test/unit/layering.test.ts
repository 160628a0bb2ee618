/**
 * The engine's folders follow the flow of a sample, and imports point down it: each folder
 * may import only the folders listed for it here (errors.ts, limits.ts and option-names.ts, the
 * leaf check of option objects, are everyone's). A new edge fails this test, so that it is
 * added here on purpose or not at all.
 *
 *   ingest/ (parsers, worker pool) ─ samples/ (reasons, checks, receiver contract)
 *   core/aggregator (the facade) ─ registry/ (lookup trie, series registry) ─ dimensions/
 *                                ─ store/ (histogram, minute store, partials, checkpoint)
 *                                ─ seal/ (sealer, summaries) ─ encode/ ─ publish/ (publisher,
 *                                  spool: journal, checkpoint file, lock) ─ sinks/
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src')

/** Folder → the folders it may import. */
const kAllowed: Record<string, readonly string[]> = {
  samples: [],
  store: ['samples'],
  encode: ['store'],
  dimensions: ['samples', 'encode'],
  registry: ['dimensions', 'encode', 'samples'],
  seal: ['encode', 'store'],
  sinks: ['encode'],
  // the Clock interface lives beside the facade (core/clock.ts)
  ingest: ['samples', 'store', 'core/clock.ts'],
  // the publisher and the spool run on the engine's clock and report through its warner
  publish: ['encode', 'sinks', 'core/clock.ts', 'core/warn.ts'],
  // the facade wires every stage, its options (core/options.ts) included
  core: ['samples', 'dimensions', 'registry', 'store', 'seal', 'encode', 'publish', 'sinks'],
}
const kEveryone = new Set(['errors.ts', 'limits.ts', 'option-names.ts'])

function files (dir: string): string[] {
  return readdirSync(dir).flatMap(f => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

/** Each relative import of `file`, as a path under src/ (`.js` specifiers mapped to `.ts`). */
function importsOf (file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/from '(\.{1,2}\/[^']+)'/g)].map(m => relative(src, resolve(dirname(file), m[1].replace(/\.js$/, '.ts'))))
}

describe('layering', () => {
  for (const [folder, allowed] of Object.entries(kAllowed)) {
    it(`${folder}/ imports only ${allowed.length === 0 ? 'errors.ts and limits.ts' : allowed.join(', ')}`, () => {
      const bad: string[] = []
      for (const f of files(join(src, folder))) {
        for (const target of importsOf(f)) {
          const top = target.split('/')[0]
          if (top === folder || kEveryone.has(target)) continue
          if (allowed.some(a => a === top || a === target)) continue
          bad.push(`${relative(src, f)} → ${target}`)
        }
      }
      expect(bad).toEqual([])
    })
  }

  it('core/options.ts imports no stage above the ones it configures', () => {
    const targets = importsOf(join(src, 'core/options.ts')).filter(t => !kEveryone.has(t))
    expect(targets.filter(t => !['core/clock.ts', 'core/warn.ts', 'dimensions', 'store', 'sinks'].some(a => t === a || t.startsWith(a + '/')))).toEqual([])
  })
})

/**
 * The package as a user gets it. The repository's files (tracked and new, not ignored: what a
 * clone of this tree holds, with no dist/) are copied to a temp directory; `npm pack` there
 * builds it (`prepack`); the tarball is installed into an empty project with
 * `npm install <tgz>`, which fetches the runtime dependencies from the registry (or npm's
 * cache). Then, in that project:
 *
 * - the tarball holds dist/ (JavaScript and declarations), README.md and package.json, and no
 *   source maps, sources or tests;
 * - `import('minutely')` and `import('minutely/sagemaker')` load;
 * - `npx minutely --version` prints the package's version;
 * - a .ts file using the package type-checks under `moduleResolution` NodeNext and bundler,
 *   with the repository's own tsc, and the declarations are really read (a wrong option is an
 *   error);
 * - the runtime dependencies are exactly the packages the shipped files import.
 *
 * One pack and one install, shared by every test here. Needs the npm registry (or a warm
 * npm cache) and git.
 */
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const kRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const kPkg = JSON.parse(readFileSync(path.join(kRoot, 'package.json'), 'utf8')) as { name: string, version: string, dependencies?: Record<string, string> }
const kTsc = path.join(kRoot, 'node_modules/typescript/bin/tsc')
/**
 * Loaded with createRequire inside a try, when a flag asks for it (`--statsd-socket`); the user
 * installs it (the error says how), so it is not a dependency.
 */
const kOptionalPackages = ['unix-dgram']

/**
 * npm, run by this Node (its directory first on PATH), without the npm_* variables of the
 * `npm test` that runs this file (they describe this repository's lifecycle, not the child's).
 */
function npmEnv (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !/^npm_config_(cache|registry|userconfig)$/i.test(k)) continue
    env[k] = v
  }
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`
  return env
}

async function sh (file: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, env: npmEnv(), maxBuffer: 64 * 2 ** 20 })
    return stdout
  } catch (err) {
    const e = err as Error & { stdout?: string, stderr?: string }
    throw new Error(`${file} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`)
  }
}

function walk (dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) walk(p, out)
    else out.push(p)
  }
  return out
}

/** The package a module specifier names ('@a/b/c' → '@a/b', 'x/y' → 'x'); undefined for relative paths and Node's own modules. */
function packageOf (spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || spec.startsWith('#')) return undefined
  const parts = spec.split('/')
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
  return builtinModules.includes(name) ? undefined : name
}

/** Packages imported by a JavaScript or declaration file: static, side-effect and dynamic imports, re-exports; and those loaded through createRequire. */
function importsOf (text: string): { imported: string[], required: string[] } {
  const imported: string[] = []
  const required: string[] = []
  for (const re of [/\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g]) {
    for (const m of text.matchAll(re)) { const p = packageOf(m[1]); if (p !== undefined) imported.push(p) }
  }
  for (const m of text.matchAll(/\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)|createRequire\([^)]*\)\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const p = packageOf(m[1] ?? m[2]); if (p !== undefined) required.push(p)
  }
  return { imported, required }
}

describe('the npm package, installed into an empty project', () => {
  let work: string
  let project: string
  let tarball: string
  let packed: string[]

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'minutely-package-'))
    // A clone of this tree: the files git would commit (tracked, and new ones not ignored).
    const clone = path.join(work, 'clone')
    const files = (await sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], kRoot)).split('\0').filter(f => f !== '')
    for (const f of files) {
      const from = path.join(kRoot, f)
      if (!existsSync(from) || f === 'node_modules') continue   // deleted in the work tree; the symlink below
      mkdirSync(path.dirname(path.join(clone, f)), { recursive: true })
      copyFileSync(from, path.join(clone, f))
    }
    expect(existsSync(path.join(clone, 'dist'))).toBe(false)
    // The build tools (prepack runs tsc), as `npm ci` would have installed them.
    symlinkSync(realpathSync(path.join(kRoot, 'node_modules')), path.join(clone, 'node_modules'), 'dir')
    const pack = JSON.parse(await sh('npm', ['pack', '--json', '--pack-destination', work], clone)) as Array<{ filename: string, files: Array<{ path: string }> }>
    tarball = path.join(work, pack[0].filename)
    packed = pack[0].files.map(f => f.path)

    project = path.join(work, 'user')
    mkdirSync(project)
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', version: '1.0.0', private: true, type: 'module' }))
    await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], project)
  }, 300_000)

  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true })
  })

  it('ships dist/ (JavaScript and declarations), README.md and package.json; no source maps, sources or tests', () => {
    for (const f of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/sagemaker/index.js', 'dist/sagemaker/index.d.ts',
      'dist/ingest/worker.js']) expect(packed, f).toContain(f)
    expect(packed.filter(f => f.endsWith('.map'))).toEqual([])
    expect(packed.filter(f => !f.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(f))).toEqual([])
    expect(packed.filter(f => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([])
  })

  it('import(\'minutely\') and import(\'minutely/sagemaker\') load', async () => {
    const out = await sh(process.execPath, ['--input-type=module', '-e', `
      const m = await import('minutely')
      const s = await import('minutely/sagemaker')
      const agg = m.createAggregator({ namespace: 'UserProject', sink: m.inMemorySink() })
      agg.record('ModelLatency', 1234, { EndpointName: 'ep' }, { unit: 'Microseconds' })
      const accepted = agg.stats().samplesAccepted
      await agg.close()
      console.log(JSON.stringify({ createAggregator: typeof m.createAggregator, resolveIdentity: typeof s.resolveIdentity, accepted }))
    `], project)
    expect(JSON.parse(out)).toEqual({ createAggregator: 'function', resolveIdentity: 'function', accepted: 1 })
  })

  it('npx minutely --version prints the package version', async () => {
    const out = await sh('npx', ['--no-install', 'minutely', '--version'], project)
    expect(out.trim()).toBe(kPkg.version)
  })

  it.each(['NodeNext', 'bundler'])('a .ts file using the package type-checks under moduleResolution %s', async (resolution) => {
    const dir = path.join(project, `ts-${resolution}`)
    mkdirSync(dir)
    writeFileSync(path.join(dir, 'use.ts'), [
      "import { createAggregator, inMemorySink, type Aggregator, type AggregatorStats } from 'minutely'",
      "import { resolveIdentity } from 'minutely/sagemaker'",
      '',
      "const agg: Aggregator = createAggregator({ namespace: 'UserProject', sink: inMemorySink() })",
      "agg.record('ModelLatency', 1234, { EndpointName: 'ep' }, { unit: 'Microseconds' })",
      'const stats: AggregatorStats = agg.stats()',
      '// @ts-expect-error: the declarations are read (were the module `any`, this would pass)',
      'createAggregator({ namespace: 42 })',
      'void resolveIdentity, stats, agg.close()',
      '',
    ].join('\n'))
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module: resolution === 'NodeNext' ? 'NodeNext' : 'ESNext',
        moduleResolution: resolution,
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,   // the shipped declarations are checked too
        // A Node project has @types/node: the declarations use node:events and Buffer. This
        // repository's copy stands for the user's.
        types: ['node'],
        typeRoots: [path.join(kRoot, 'node_modules/@types')],
      },
      files: ['use.ts'],
    }))
    await sh(process.execPath, [kTsc, '-p', dir], dir)
  })

  it('its runtime dependencies are exactly the packages its shipped files import', () => {
    const installed = path.join(project, 'node_modules', kPkg.name)
    const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>, optionalDependencies?: unknown, peerDependencies?: unknown }
    const imported = new Set<string>()
    const required = new Set<string>()
    for (const f of walk(path.join(installed, 'dist'))) {
      if (!f.endsWith('.js') && !f.endsWith('.d.ts')) continue
      const r = importsOf(readFileSync(f, 'utf8'))
      for (const p of r.imported) imported.add(p)
      for (const p of r.required) required.add(p)
    }
    expect([...imported].sort()).toEqual(Object.keys(manifest.dependencies ?? {}).sort())
    expect([...required].sort()).toEqual(kOptionalPackages)
    expect(manifest.optionalDependencies).toBeUndefined()
    expect(manifest.peerDependencies).toBeUndefined()
    // …and what it declares is what this repository's package.json says.
    expect(manifest.dependencies).toEqual(kPkg.dependencies)
  })
})

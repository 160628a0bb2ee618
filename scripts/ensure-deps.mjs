// Makes `npm start` and `npm test` work on a fresh clone: installs the locked dependencies
// (npm ci) when node_modules lacks one of them or holds another version, then returns.
//
// It compares versions, not file times: a checkout or a git worktree made after the install
// has a newer package-lock.json and nothing to install. And a node_modules that is a link (an
// install shared between checkouts) is never reinstalled through: npm ci empties the directory
// the link points to, under everyone who shares it. It says what is missing instead.
import { lstatSync, readFileSync, realpathSync } from 'node:fs'
import { execSync } from 'node:child_process'

/** The locked packages node_modules lacks or holds at another version ('name@locked (found x)'). */
function outOfDate () {
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'))
  const out = []
  for (const [key, meta] of Object.entries(lock.packages ?? {})) {
    if (!key.startsWith('node_modules/') || meta.link === true) continue
    let found
    try { found = JSON.parse(readFileSync(`${key}/package.json`, 'utf8')).version } catch { found = undefined }
    if (found === meta.version) continue
    if (found === undefined && meta.optional === true) continue   // another platform's binary
    out.push(`${key.slice('node_modules/'.length)}@${meta.version}${found === undefined ? '' : ` (found ${found})`}`)
  }
  return out
}

let link = false
try { link = lstatSync('node_modules').isSymbolicLink() } catch { /* no node_modules yet */ }
const stale = outOfDate()
if (stale.length > 0) {
  const list = stale.slice(0, 5).join(', ') + (stale.length > 5 ? ` and ${stale.length - 5} more` : '')
  if (link) {
    process.stderr.write(`node_modules links to ${realpathSync('node_modules')}, which lacks ${list}: ` +
      'run npm ci there (not through the link, which would empty it for everyone using it)\n')
    process.exit(1)
  }
  process.stderr.write(`installing dependencies (npm ci): missing ${list}\n`)
  execSync('npm ci --no-audit --no-fund', { stdio: 'inherit' })
}

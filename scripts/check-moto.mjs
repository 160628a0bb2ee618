// `npm test` (pretest): the integration tests round-trip through moto's CloudWatch server
// (test/helpers/moto.ts), a Python package npm cannot install. Without it, stop before anything
// runs, with one line that says how to get it. MOTO_PYTHON names another interpreter, as it
// does for the tests.
import { spawnSync } from 'node:child_process'

const kInstall = "python3 -m pip install 'moto[server]>=5.2,<5.3'"
const python = process.env.MOTO_PYTHON ?? 'python3'
// moto.server needs the [server] extra (flask, flask-cors): importing it proves it is there.
const r = spawnSync(python, ['-c', 'import moto, moto.server; print(moto.__version__)'], { encoding: 'utf8' })

let problem
if (r.error !== undefined) problem = `cannot run ${python}: ${r.error.code ?? r.error.message}`
else if (r.status !== 0) problem = (r.stderr ?? '').trim().split('\n').pop() || `import moto.server failed (exit ${r.status})`
else {
  const version = r.stdout.trim()
  const m = /^(\d+)\.(\d+)/.exec(version)
  // The helpers state what moto 5.2 does (test/helpers/moto.ts); another minor may differ.
  if (m === null || m[1] !== '5' || m[2] !== '2') problem = `found moto ${version}; the tests are written against 5.2.x`
}
if (problem !== undefined) {
  process.stderr.write(`npm test needs ${python} with moto's CloudWatch server (${problem}): ${kInstall}\n`)
  process.exit(1)
}

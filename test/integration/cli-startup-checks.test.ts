/**
 * Mistakes are said at start-up: with a CloudWatch sink (metrics or logs), the sidecar and the
 * pipeline resolve region and credentials before they report ready, and when either is
 * missing exit 2 with one line that says what to set — instead of starting, answering
 * /healthz ok, and failing every publish until shutdown. Each case spawns dist/cli/main.js
 * with an empty HOME and no AWS_* variables.
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { killAll, runCli, type CliRun } from '../helpers/cli.js'

let home: string
beforeAll(async () => { home = await mkdtemp(join(tmpdir(), 'minutely-empty-home-')) })
afterAll(async () => { await rm(home, { recursive: true, force: true }) })
afterEach(() => { killAll() })

/** The sidecar's UDP listeners are off: fixed ports that parallel test files would fight over. */
const kQuiet = { MINUTELY_STATSD_PORT: 'off', MINUTELY_EMF_PORT: 'off', MINUTELY_HTTP_PORT: '0' }
/**
 * Instance metadata (a role of the machine running the tests) is the last link of the SDK's
 * credential chain: turned off where credentials must be missing, so the case holds on EC2 too.
 */
const kNoImds = { AWS_EC2_METADATA_DISABLED: 'true' }

/** minutely's own lines on stderr (the SDK may add a Node version warning of its own). */
function ours (r: CliRun): string[] {
  return r.stderr.split('\n').filter(l => l.startsWith('minutely'))
}

function expectRefused (r: CliRun, line: RegExp): void {
  expect(r.code, r.stderr).toBe(2)
  expect(ours(r)).toHaveLength(1)
  expect(ours(r)[0]).toMatch(line)
  expect(r.stderr).not.toMatch(/HTTP ingest on|listening on/)   // it never said it was ready
}

describe('the sidecar', () => {
  it('no region: exit 2, naming --region, AWS_REGION and the profile in ~/.aws/config', async () => {
    const r = await runCli(['sidecar', '--sink', 'cloudwatch'], { HOME: home, ...kQuiet })
    expectRefused(r, new RegExp(`^minutely: no AWS region for CloudWatch: set --region \\(MINUTELY_REGION\\), AWS_REGION, or region in the profile \\[default\\] of ${home}/\\.aws/config`))
  })

  it('no credentials: exit 2, naming AWS_ACCESS_KEY_ID, AWS_PROFILE and the credentials file', async () => {
    const r = await runCli(['sidecar', '--sink', 'cloudwatch', '--region', 'us-east-1'], { HOME: home, ...kQuiet, ...kNoImds })
    expectRefused(r, new RegExp(`^minutely: no AWS credentials for CloudWatch: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a profile with credentials in ${home}/\\.aws/credentials`))
  })

  it('AWS_PROFILE names a profile without credentials: the message names that profile', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'minutely-profile-home-'))
    try {
      await mkdir(join(dir, '.aws'))
      await writeFile(join(dir, '.aws', 'config'), '[profile ml]\nregion = eu-west-1\n')
      const r = await runCli(['sidecar', '--sink', 'cloudwatch'], { HOME: dir, AWS_PROFILE: 'ml', ...kQuiet, ...kNoImds })
      expectRefused(r, /^minutely: no AWS credentials for CloudWatch: give the profile \[profile ml\] \(AWS_PROFILE\) credentials in .*or unset AWS_PROFILE/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('the model servers\' log sink is checked too (CloudWatch Logs), before any model server starts', async () => {
    const r = await runCli(['sidecar', '--sink', 'emf', '--endpoint-name', 'ep', '--log-sink', 'cloudwatch', '--', process.execPath, '-e', 'console.log("should not run")'],
      { HOME: home, ...kQuiet })
    expectRefused(r, /^minutely: no AWS region for CloudWatch Logs: set --region \(MINUTELY_REGION\), AWS_REGION/)
    expect(r.stderr).not.toMatch(/container .*started/)
  })
})

describe('the pipeline', () => {
  it('no region: exit 2 before it listens', async () => {
    const r = await runCli(['pipeline', '--port', '0', '--container', 'http://127.0.0.1:9', '--endpoint-name', 'ep', '--sink', 'cloudwatch'], { HOME: home })
    expectRefused(r, /^minutely: no AWS region for CloudWatch: set --region \(MINUTELY_REGION\), AWS_REGION, or region in the profile \[default\]/)
  })

  it('no credentials: exit 2 before it listens', async () => {
    const r = await runCli(['pipeline', '--port', '0', '--container', 'http://127.0.0.1:9', '--endpoint-name', 'ep', '--sink', 'cloudwatch', '--region', 'us-east-1'], { HOME: home, ...kNoImds })
    expectRefused(r, /^minutely: no AWS credentials for CloudWatch: /)
  })
})

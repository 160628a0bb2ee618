/**
 * The pipeline command's settings and argument handling: command groups after `--`, container
 * names and URLs, the reuse of the sidecar's sink settings, the instance-metric settings,
 * and the built CLI's usage errors and help.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { kSettings, resolveSettings } from '../../../src/cli/config.js'
import { kPipelineSettings, kSharedSinkFlags, resolveContainers, splitCommandGroups, type PipelineSettings } from '../../../src/cli/pipeline.js'
import { kInstanceSettings, startInstanceMetricsFromSettings } from '../../../src/cli/instance-settings.js'
import { kLogSettings } from '../../../src/cli/container-logs.js'
import { FakeRecorder } from '../sagemaker/fake-recorder.js'

const settings = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): PipelineSettings => resolveSettings(kPipelineSettings, flags, env)

describe('splitCommandGroups', () => {
  it('splits options from command groups at --', () => {
    expect(splitCommandGroups(['--port', '1', '--', 'node', 'a.js', '--x', '--', 'python', 'b.py'])).toEqual({
      options: ['--port', '1'], commands: [['node', 'a.js', '--x'], ['python', 'b.py']],
    })
    expect(splitCommandGroups(['--port', '1'])).toEqual({ options: ['--port', '1'], commands: [] })
    // an empty group: that container is not run by the proxy
    expect(splitCommandGroups(['--', 'a', '--', '--', 'c'])).toEqual({ options: [], commands: [['a'], [], ['c']] })
  })
})

describe('resolveContainers', () => {
  it('names unnamed containers container-N by position', () => {
    const s = settings({ container: ['http://127.0.0.1:1', 'http://127.0.0.1:2/', 'http://127.0.0.1:3'], 'container-name': ['', 'model'] })
    expect(resolveContainers(s).map(c => [c.name, c.url])).toEqual([
      ['container-1', 'http://127.0.0.1:1'], ['model', 'http://127.0.0.1:2'], ['container-3', 'http://127.0.0.1:3'],
    ])
    // in the environment, "-" keeps a position unnamed (empty list entries are dropped)
    const e = settings({}, { MINUTELY_CONTAINERS: 'http://a:1,http://b:2', MINUTELY_CONTAINER_NAMES: '-,post' })
    expect(resolveContainers(e).map(c => c.name)).toEqual(['container-1', 'post'])
  })
  it('maps command groups to containers in order', () => {
    const s = settings({ container: ['http://a:1', 'http://b:2', 'http://c:3'] })
    expect(resolveContainers(s, [['x'], [], ['z', '1']]).map(c => c.command)).toEqual([['x'], undefined, ['z', '1']])
  })
  it('refuses what cannot be a pipeline, naming the flag', () => {
    expect(() => resolveContainers(settings({}))).toThrow(/--container is required/)
    expect(() => resolveContainers(settings({ container: ['ftp://x'] }))).toThrow(/--container .* must be an http/)
    expect(() => resolveContainers(settings({ container: ['not a url'] }))).toThrow(/not a URL/)
    expect(() => resolveContainers(settings({ container: ['http://a:1'], 'container-name': ['a', 'b'] }))).toThrow(/--container-name was given 2 times/)
    expect(() => resolveContainers(settings({ container: ['http://a:1', 'http://b:1'], 'container-name': ['same', 'same'] }))).toThrow(/--container-name/)
    expect(() => resolveContainers(settings({ container: ['http://a:1'], 'container-name': ['a/b'] }))).toThrow(/--container-name/)
    expect(() => resolveContainers(settings({ container: ['http://a:1'] }), [['x'], ['y']])).toThrow(/2 commands after -- for 1 --container/)
  })
})

describe('the settings table', () => {
  it('reuses the sidecar\'s sink entries (flag, variable, type, help) rather than copying them', () => {
    for (const flag of kSharedSinkFlags) {
      const mine = kPipelineSettings.find(s => s.flag === flag)
      const theirs = kSettings.find(s => s.flag === flag)
      expect(theirs, flag).toBeDefined()
      expect(mine, flag).toBeDefined()
      expect({ env: mine!.env, type: mine!.type }).toEqual({ env: theirs!.env, type: theirs!.type })
      if (flag !== 'namespace') expect(mine).toEqual(theirs)
    }
    expect(kPipelineSettings.find(s => s.flag === 'namespace')!.default).toBe('minutely/SageMaker')
    expect(kPipelineSettings.find(s => s.flag === 'http-port')).toBeUndefined()
  })
  it('has each flag once, and includes the instance-metric and log settings', () => {
    const flags = kPipelineSettings.map(s => s.flag)
    expect(new Set(flags).size).toBe(flags.length)
    for (const s of [...kInstanceSettings, ...kLogSettings]) expect(flags).toContain(s.flag)
    const s = settings({})
    expect(s).toMatchObject({ port: 8080, instanceCount: 1, containerTimeoutMs: 60_000, pingTimeoutMs: 2000, maxBodyBytes: 6 * 1024 * 1024, logSink: 'auto', restart: 'never', instanceMetrics: 'off' })
  })
})

describe('startInstanceMetricsFromSettings', () => {
  it('is off by default', () => {
    expect(startInstanceMetricsFromSettings(settings({}), new FakeRecorder())).toBeUndefined()
  })
  it('starts the endpoint collector with Host endpoint/variant/instance-id', async () => {
    const rec = new FakeRecorder()
    const lines: string[] = []
    const im = startInstanceMetricsFromSettings(settings({
      'instance-metrics': 'endpoint', 'endpoint-name': 'ep', 'variant-name': 'v1', 'instance-id': 'i-9', 'instance-collect': ['memory', 'disk'], 'cgroup-path': 'host',
    }), rec, l => lines.push(l))!
    try {
      expect(im.host).toBe('ep/v1/i-9')
      expect(im.namespace).toBe('/aws/sagemaker/Endpoints')
      await im.ready
      const metrics = new Set(rec.samples.map(x => x.metric))
      expect([...metrics].sort()).toEqual(['DiskUtilization', 'MemoryUtilization'])
      for (const x of rec.samples) expect(x).toMatchObject({ dimensions: { Host: 'ep/v1/i-9' }, unit: 'Percent', namespace: '/aws/sagemaker/Endpoints' })
      expect(lines.join('\n')).toContain('Host=ep/v1/i-9')
    } finally {
      im.stop()
    }
  })
  it('builds training and transform Hosts', () => {
    const t = startInstanceMetricsFromSettings(settings({ 'instance-metrics': 'training', 'training-job': 'job', 'instance-number': '2', 'instance-collect': ['disk'] }), new FakeRecorder())!
    const x = startInstanceMetricsFromSettings(settings({ 'instance-metrics': 'transform', 'transform-job': 'tj', 'instance-id': 'i-3', 'instance-collect': ['disk'] }), new FakeRecorder())!
    t.stop(); x.stop()
    expect([t.host, t.namespace]).toEqual(['job/algo-2', '/aws/sagemaker/TrainingJobs'])
    expect([x.host, x.namespace]).toEqual(['tj/i-3', '/aws/sagemaker/TransformJobs'])
  })
  it('names the flag in its errors', () => {
    const rec = new FakeRecorder()
    expect(() => startInstanceMetricsFromSettings(settings({ 'instance-metrics': 'gpu' }), rec)).toThrow(/--instance-metrics must be/)
    expect(() => startInstanceMetricsFromSettings(settings({ 'instance-metrics': 'endpoint', 'instance-collect': ['cpu', 'net'] }), rec)).toThrow(/--instance-collect/)
    expect(() => startInstanceMetricsFromSettings(settings({ 'instance-metrics': 'training' }, {}), rec)).toThrow(/--training-job/)
    expect(() => startInstanceMetricsFromSettings(settings({ 'instance-metrics': 'endpoint', 'endpoint-name': 'e', 'instance-interval-ms': '10' }), rec)).toThrow(/--instance-interval-ms/)
  })
})

const cli = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url))
describe.runIf(existsSync(cli))('the built CLI', () => {
  const runWith = (env: Record<string, string>, ...args: string[]): { status: number | null, stdout: string, stderr: string } => {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const run = (...args: string[]): { status: number | null, stdout: string, stderr: string } => runWith({}, ...args)
  it('lists pipeline in the usage and prints its help', () => {
    expect(run('--help').stdout).toMatch(/pipeline\s+serve \/invocations/)
    const h = run('pipeline', '--help')
    expect(h.status).toBe(0)
    expect(h.stdout).toMatch(/usage: minutely pipeline --container URL/)
    for (const f of ['--container-timeout-ms', '--ping-timeout-ms', '--instance-count', '--sink', '--cloudwatch-endpoint', '--instance-metrics', '--log-sink', '--restart']) expect(h.stdout).toContain(f)
  })
  it('exits 2 with a message on bad usage', () => {
    const a = run('pipeline', '--port', '0')
    expect(a.status).toBe(2)
    expect(a.stderr).toMatch(/--container is required/)
    const b = run('pipeline', '--bogus')
    expect(b.status).toBe(2)
    expect(b.stderr).toMatch(/Unknown option '--bogus'/)
    const c = run('pipeline', '--port', '0', '--container', 'http://127.0.0.1:9', '--sink', 'memory')
    expect(c.status).toBe(2)
    expect(c.stderr).toMatch(/--endpoint-name is required/)
  })
  it('warns about an unknown MINUTELY_* variable, naming the closest of its own, before it starts; the sidecar\'s are not typos', () => {
    const r = runWith({ MINUTELY_ENDPOINT_NAM: 'ep', MINUTELY_HTTP_PORT: '8126' }, 'pipeline', '--port', '0', '--container', 'http://127.0.0.1:9', '--sink', 'memory')
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/warning: unknown variable MINUTELY_ENDPOINT_NAM ignored; did you mean MINUTELY_ENDPOINT_NAME \(--endpoint-name\)\?/)
    expect(r.stderr).not.toContain('MINUTELY_HTTP_PORT')
    expect(r.stderr).toMatch(/--endpoint-name is required/)
    expect(run('pipeline', '--contianer', 'http://x').stderr).toMatch(/did you mean --container\?/)
  })
})

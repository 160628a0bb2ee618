import { describe, expect, it } from 'vitest'
import { createLogger, logProcessWarnings, prettyLine, Scrubber } from '../../../src/cli/logger.js'

function capture () {
  const lines: string[] = []
  return { lines, stream: { write: (s: string) => { lines.push(s) } } }
}

describe('createLogger', () => {
  it('writes one JSON object a line, with levels as words', () => {
    const { lines, stream } = capture()
    const log = createLogger({ stream, format: 'json', env: {} })
    log.info({ port: 8126 }, 'listening')
    log.debug('hidden at info')
    log.warn('careful')
    expect(lines).toHaveLength(2)
    const a = JSON.parse(lines[0]) as Record<string, unknown>
    expect(a).toMatchObject({ level: 'info', msg: 'listening', port: 8126, name: 'minutely' })
    expect(new Date(a.time as string).toISOString()).toBe(a.time)
    expect(JSON.parse(lines[1])).toMatchObject({ level: 'warn', msg: 'careful' })
    expect(lines.every(l => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true)
  })

  it('honours the level and MINUTELY_LOG_LEVEL', () => {
    const { lines, stream } = capture()
    const log = createLogger({ stream, format: 'json', env: { MINUTELY_LOG_LEVEL: 'debug' } })
    log.debug('now shown')
    expect(lines).toHaveLength(1)
    const quiet = createLogger({ stream, format: 'json', level: 'error', env: {} })
    quiet.warn('no')
    expect(lines).toHaveLength(1)
  })

  it('refuses an unknown format or level', () => {
    expect(() => createLogger({ format: 'xml' as never })).toThrow(/--log-format must be json, pretty or auto/)
    expect(() => createLogger({ level: 'loud' as never })).toThrow(/--log-level must be one of/)
  })

  it('maps the sidecar\'s lines to levels', () => {
    const { lines, stream } = capture()
    const log = createLogger({ stream, format: 'json', env: {} })
    log.line('warning: listeners bind 0.0.0.0, not loopback')
    log.line('error: close failed')
    log.line('minutely sidecar: HTTP ingest on http://127.0.0.1:8126/v1/samples')
    log.line('publish: PutMetricData failed (Throttling): Rate exceeded')
    log.line('close failed: Error: boom')
    expect(lines.map(l => (JSON.parse(l) as { level: string }).level)).toEqual(['warn', 'error', 'info', 'warn', 'error'])
    expect((JSON.parse(lines[0]) as { msg: string }).msg).toBe('listeners bind 0.0.0.0, not loopback')
  })

  it('never prints a secret', () => {
    const { lines, stream } = capture()
    const secretKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
    const token = 's3cr3t-"token"-value'
    const log = createLogger({ stream, format: 'json', secrets: [token, '', undefined], env: { AWS_SECRET_ACCESS_KEY: secretKey, AWS_SESSION_TOKEN: 'FwoGZXIvYXdzEJr//////////session', MINUTELY_AUTH_TOKEN: 'tok-from-env-123', HOME: '/root' } })
    log.info({ token: 'field-token-1', credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: secretKey }, req: { headers: { authorization: 'Bearer abc.def.ghi' } } }, 'start')
    log.warn(`sending with key ${secretKey} and token ${token} and tok-from-env-123`)
    log.error(new Error(`request failed: authorization: Bearer eyJhbGciOi.payload.sig Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/monitoring/aws4_request, Signature=${'ab'.repeat(32)}`))
    log.info('endpoint https://user:hunter22@cloudwatch.example/ ?X-Amz-Security-Token=FwoGZXIvYXdz&x=1 password=hunter22')
    log.addSecret('late-secret-xyz')
    log.child({ component: 'publish' }).info({ detail: 'late-secret-xyz' }, 'child line')
    const all = lines.join('')
    for (const s of [secretKey, 'field-token-1', 'AKIAIOSFODNN7EXAMPLE', 'abc.def.ghi', 's3cr3t', 'tok-from-env-123', 'eyJhbGciOi', 'ab'.repeat(32), 'hunter22', 'FwoGZXIvYXdz', 'late-secret-xyz']) {
      expect(all, s).not.toContain(s)
    }
    expect(all).toContain('[redacted]')
    expect(lines).toHaveLength(5)
    for (const l of lines) JSON.parse(l)
    // Ordinary words stay.
    expect(all).toContain('request failed')
    expect(all).toContain('start')
  })

  it('has a human mode for a terminal', () => {
    const { lines, stream } = capture()
    const log = createLogger({ stream: Object.assign(stream, { isTTY: true }), env: { NO_COLOR: '1' } })
    log.warn({ port: 8126, where: 'a b' }, 'hello')
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  hello port=8126 where="a b"\n$/)
  })

  it('prettyLine shows errors with their stack', () => {
    const line = prettyLine(JSON.stringify({ level: 'error', time: '2026-01-01T12:00:00.000Z', msg: 'failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' } }))
    expect(line).toBe('12:00:00.000 ERROR failed\n    Error: boom\n        at x\n')
  })
})

describe('Scrubber', () => {
  it('leaves ordinary text alone', () => {
    const s = new Scrubber()
    s.add('abc')   // too short to be a secret: ignored
    const text = 'missing or wrong bearer token: send "authorization: Bearer <token>" · abc · 1234 samples'
    expect(s.scrub(text)).toBe(text)
  })
})

describe('logProcessWarnings', () => {
  /** Runs `fn` with `listeners` as the only 'warning' listeners (standing for Node's printer), then puts the real ones back. */
  async function withWarningListeners (listeners: Array<(w: Error) => void>, fn: () => Promise<void>): Promise<void> {
    const real = process.listeners('warning')
    for (const l of real) process.removeListener('warning', l)
    for (const l of listeners) process.on('warning', l)
    try { await fn() } finally {
      process.removeAllListeners('warning')
      for (const l of real) process.on('warning', l)
    }
  }
  const nextWarning = async (): Promise<void> => { await new Promise(resolve => { process.once('warning', resolve) }) }

  it('logs each warning as one warn line in place of Node\'s printer, and puts the printer back', async () => {
    const { lines, stream } = capture()
    const printed: string[] = []
    const nodePrinter = (w: Error): void => { printed.push(w.message) }
    await withWarningListeners([nodePrinter], async () => {
      const restore = logProcessWarnings(createLogger({ stream, format: 'json', env: {} }))
      expect(process.listeners('warning')).not.toContain(nodePrinter)
      // The shape the AWS SDK emits: a string with no type, over several lines.
      const seen = nextWarning()
      process.emitWarning('NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)\nversions published after\n\nMore information can be found at: https://a.co/x')
      await seen
      const seen2 = nextWarning()
      process.emitWarning('old API', { type: 'DeprecationWarning', code: 'DEP0000' })
      await seen2
      restore()
      expect(process.listeners('warning')).toEqual([nodePrinter])
    })
    expect(printed).toEqual([])
    expect(lines).toHaveLength(2)
    expect(lines.every(l => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true)
    const [a, b] = lines.map(l => JSON.parse(l) as Record<string, unknown>)
    expect(a).toMatchObject({ level: 'warn', warning: 'Warning', msg: 'NodeVersionSupportWarning: The AWS SDK for JavaScript (v3) versions published after More information can be found at: https://a.co/x' })
    expect(a.code).toBeUndefined()
    expect(b).toMatchObject({ level: 'warn', warning: 'DeprecationWarning', code: 'DEP0000', msg: 'old API' })
  })

  it('leaves warnings off when Node prints none (--no-warnings, NODE_NO_WARNINGS=1)', async () => {
    const { lines, stream } = capture()
    await withWarningListeners([], async () => {
      const restore = logProcessWarnings(createLogger({ stream, format: 'json', env: {} }))
      expect(process.listeners('warning')).toEqual([])
      restore()
    })
    expect(lines).toEqual([])
  })
})

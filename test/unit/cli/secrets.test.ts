/**
 * The bearer token never shows: a --config file that is not JSON is located by line and column
 * without quoting it; a ConfigError never echoes a secret setting's value, wherever it was
 * given; a token too short to be scrubbed is refused; the log scrubs the scheme in any case.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { resolveSettings } from '../../../src/cli/config.js'
import { jsonSyntaxErrorAt } from '../../../src/cli/json-syntax.js'
import { authToken, kSidecarSettings } from '../../../src/cli/sidecar.js'
import { createLogger, secretScrubber } from '../../../src/cli/logger.js'

const dir = mkdtempSync(join(tmpdir(), 'minutely-secrets-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('jsonSyntaxErrorAt', () => {
  const valid = ['{}', '[]', ' {"a": [1, -2.5e3, true, false, null, "x\\"\\u00e9\\n"]} ', '"s"', '0', '{"a":{"b":{}}}', '[[],[{}]]']
  const invalid: Array<[string, number, number]> = [
    ['', 1, 1], ['{', 1, 2], ['{"a": 1,}', 1, 9], ['{"a" 1}', 1, 6], ['{\n  "a": tru\n}', 2, 8], ['[1 2]', 1, 4],
    ['{"a": "x\ny"}', 1, 9], ['{"a": "\\q"}', 1, 9], ['{"a": 01}', 1, 8], ['{} x', 1, 4], ["{'a': 1}", 1, 2], ['{"a": "\\u12"}', 1, 9],
    ['{\n"k": "v",\n"k2": "unterminated\n', 3, 20], ['[1,]', 1, 4], ['{"a":1}}', 1, 8], ['NaN', 1, 1], ['[-]', 1, 2],
  ]
  it.each(valid)('%j is valid', (t) => {
    expect(() => JSON.parse(t)).not.toThrow()
    expect(jsonSyntaxErrorAt(t)).toBeUndefined()
  })
  it.each(invalid)('%j goes wrong at line %i, column %i', (t, line, column) => {
    expect(() => JSON.parse(t)).toThrow()
    expect(jsonSyntaxErrorAt(t)).toMatchObject({ line, column })
  })
})

describe('a secret never shows in a ConfigError', () => {
  const token = 'tok-0123456789abcdef'
  it('--config that is not JSON: where, not what', () => {
    const f = join(dir, 'broken.json')
    writeFileSync(f, `{"auth-token": "${token}" "sink": "memory"}`)
    let message = ''
    try { resolveSettings(kSidecarSettings, { config: f }, {}) } catch (err) { message = (err as Error).message }
    expect(message).toBe(`--config ${f}: not valid JSON at line 1, column ${`{"auth-token": "${token}" `.length + 1}`)
    writeFileSync(f, `{"auth-token": "${token}`)
    try { resolveSettings(kSidecarSettings, { config: f }, {}) } catch (err) { message = (err as Error).message }
    expect(message).toMatch(/not valid JSON at line 1, column \d+: it ends too soon$/)
    expect(message).not.toContain('tok-')
  })

  it.each([
    ['the flag', { 'auth-token': token, 'max-series': token }, {}, undefined],
    ['the variable', { 'max-series': token }, { MINUTELY_AUTH_TOKEN: token }, undefined],
    ['the --config file', {}, {}, { 'auth-token': token, 'max-series': token }],
  ])('a token from %s given as another setting\'s value is not echoed', (_from, flags, env, file) => {
    const f = join(dir, 'c.json')
    if (file !== undefined) writeFileSync(f, JSON.stringify(file))
    let message = ''
    try { resolveSettings(kSidecarSettings, { ...flags, ...(file !== undefined ? { config: f } : {}) }, env) } catch (err) { message = (err as Error).message }
    expect(message).toMatch(/max-series.* must be an integer from 1 to 10000000; got "\[redacted\]"/)
    expect(message).not.toContain(token)
  })

  it('other values are still shown', () => {
    expect(() => resolveSettings(kSidecarSettings, { 'auth-token': token, 'max-series': 'lots' }, {})).toThrow(/got "lots"/)
  })
})

describe('authToken', () => {
  it('refuses a token too short to be kept out of the log, from the flag or the file', () => {
    expect(() => authToken({ authToken: 'abc' })).toThrow(/--auth-token must be at least 6 characters/)
    const f = join(dir, 'short')
    writeFileSync(f, 'abc\n')
    expect(() => authToken({ authTokenFile: f })).toThrow(`the token in --auth-token-file ${f} must be at least 6 characters`)
    writeFileSync(f, 'long-enough\n')
    expect(authToken({ authTokenFile: f })).toBe('long-enough')
  })
})

describe('the log', () => {
  it('scrubs a bearer token whatever the case of the scheme; keeps a *_FILE path, which is not a secret', () => {
    const lines: string[] = []
    const scrubber = secretScrubber(['from-argv-123456'], { MINUTELY_AUTH_TOKEN_FILE: '/run/secrets/minutely-token' })
    const log = createLogger({ stream: { write: (s: string) => { lines.push(s) } }, format: 'json', env: { MINUTELY_AUTH_TOKEN_FILE: '/run/secrets/minutely-token' }, scrubber })
    log.info('authorization: bearer abcdef123456 / BEARER ghijkl789012 / Bearer mnopqr345678')
    log.info('read /run/secrets/minutely-token')
    log.addSecret('late-token-abcdef')
    const all = lines.join('') + log.scrub('late-token-abcdef and from-argv-123456')
    for (const s of ['abcdef123456', 'ghijkl789012', 'mnopqr345678', 'late-token-abcdef', 'from-argv-123456']) expect(all, s).not.toContain(s)
    expect(all).toContain('read /run/secrets/minutely-token')
    expect(scrubber.scrub('late-token-abcdef')).toBe('[redacted]')   // one scrubber, shared with what prints before the log exists
  })
})

/**
 * Typos on the command line: unknown MINUTELY_* variables are warned about with the closest
 * variable and its flag, unknown flags and --config keys name the closest one, and library
 * option names in messages become the flags that set them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { flagText, parseCommandLine, resolveSettings, unknownVariables } from '../../../src/cli/config.js'
import { kSidecarSettings } from '../../../src/cli/sidecar.js'
import { kPipelineSettings } from '../../../src/cli/pipeline.js'
import { kIdentityEnv } from '../../../src/sagemaker/env.js'

describe('unknown MINUTELY_* variables', () => {
  it('one warning each, naming the closest variable of the command and its flag', () => {
    const env = { MINUTELY_NAMESPCE: 'x', MINUTELY_HTTP_PROT: '1', MINUTELY_NAMESPACE: 'ok', PATH: '/bin', MINUTELYNAMESPACE: 'not ours' }
    expect(unknownVariables('sidecar', kSidecarSettings, env)).toEqual([
      'unknown variable MINUTELY_HTTP_PROT ignored; did you mean MINUTELY_HTTP_PORT (--http-port)?',
      'unknown variable MINUTELY_NAMESPCE ignored; did you mean MINUTELY_NAMESPACE (--namespace)?',
    ])
  })

  it('nothing close: says where the variables are listed (the common prefix does not make every name close)', () => {
    expect(unknownVariables('sidecar', kSidecarSettings, { MINUTELY_FOO: '1' })).toEqual(['unknown variable MINUTELY_FOO ignored; minutely sidecar --help lists the variables it reads'])
  })

  it('a variable another command reads, or the library, is not a typo', () => {
    const known = [...kSidecarSettings, ...kPipelineSettings].map(s => s.env)
    expect(unknownVariables('sidecar', kSidecarSettings, { MINUTELY_PORT: '8080', MINUTELY_CONTAINERS: 'http://x' })).toHaveLength(2)
    expect(unknownVariables('sidecar', kSidecarSettings, { MINUTELY_PORT: '8080', MINUTELY_CONTAINERS: 'http://x' }, known)).toEqual([])
    expect(unknownVariables('pipeline', kPipelineSettings, { MINUTELY_HTTP_PORT: '1', MINUTELY_STATSD_PORT: 'off' }, known)).toEqual([])
    // Every variable the SageMaker layer reads is some command's flag too.
    const identity = Object.values(kIdentityEnv).flat().filter(v => v.startsWith('MINUTELY_'))
    expect(identity.length).toBeGreaterThan(0)
    expect(unknownVariables('sidecar', kSidecarSettings, Object.fromEntries(identity.map(v => [v, 'x'])))).toEqual([])
  })
})

describe('unknown flags and --config keys', () => {
  it('an unknown flag names the closest one; other parse errors say what is wrong', () => {
    expect(() => parseCommandLine('sidecar', kSidecarSettings, ['--namespce', 'x'])).toThrow("Unknown option '--namespce'; did you mean --namespace?\nminutely sidecar --help lists the options")
    expect(() => parseCommandLine('pipeline', kPipelineSettings, ['--contianer=http://x'])).toThrow(/did you mean --container\?/)
    expect(() => parseCommandLine('sidecar', kSidecarSettings, ['--bogus'])).toThrow(/^Unknown option '--bogus'\nminutely sidecar --help/)
    expect(() => parseCommandLine('sidecar', kSidecarSettings, ['--region'])).toThrow(/--region/)
    expect(parseCommandLine('sidecar', kSidecarSettings, ['-v'])).toMatchObject({ version: true })
    expect(parseCommandLine('sidecar', kSidecarSettings, ['--version', '--namespace', 'N'])).toMatchObject({ version: true, namespace: 'N' })
  })

  it('an unknown --config key names the closest flag', () => {
    const dir = mkdtempSync(join(tmpdir(), 'minutely-config-'))
    try {
      const file = join(dir, 'c.json')
      writeFileSync(file, JSON.stringify({ 'max-sereis': 5 }))
      expect(() => resolveSettings(kSidecarSettings, { config: file }, {})).toThrow(/unknown setting "max-sereis"; did you mean "max-series"\?/)
      writeFileSync(file, JSON.stringify({ zzz: 5 }))
      expect(() => resolveSettings(kSidecarSettings, { config: file }, {})).toThrow(/unknown setting "zzz"; keys are flag names/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('flagText', () => {
  it('turns library option names into the flags that set them, and leaves others alone', () => {
    expect(flagText('raise options.maxSeries or options.maxDimensions; options.gracePeriodMs', kSidecarSettings)).toBe('raise --max-series or --max-dimensions; --grace-ms')
    expect(flagText('options.onWarning must be a function', kSidecarSettings)).toBe('options.onWarning must be a function')
  })
})

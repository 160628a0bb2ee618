import { describe, expect, it } from 'vitest'
import { kDefaultVariantName, requireIdentity, resolveIdentity } from '../../../src/sagemaker/env.js'

const hostname = (): string => 'the-hostname'

describe('resolveIdentity', () => {
  it('prefers options over the environment', () => {
    const id = resolveIdentity({
      instanceId: 'i-opt', endpointName: 'ep-opt', variantName: 'v-opt', trainingJobName: 'tj-opt', instanceNumber: 3, transformJobName: 'xf-opt',
      env: { MINUTELY_INSTANCE_ID: 'i-env', MINUTELY_ENDPOINT_NAME: 'ep-env', MINUTELY_VARIANT_NAME: 'v-env', TRAINING_JOB_NAME: 'tj-env', SM_CURRENT_HOST: 'algo-9' },
      hostname,
    })
    expect(id.instanceId).toEqual({ value: 'i-opt', source: 'option' })
    expect(id.endpointName).toEqual({ value: 'ep-opt', source: 'option' })
    expect(id.variantName).toEqual({ value: 'v-opt', source: 'option' })
    expect(id.trainingJobName).toEqual({ value: 'tj-opt', source: 'option' })
    expect(id.instanceNumber).toEqual({ value: 3, source: 'option' })
    expect(id.transformJobName).toEqual({ value: 'xf-opt', source: 'option' })
  })

  it('reads the instance id from MINUTELY_INSTANCE_ID, then HOSTNAME, then os.hostname()', () => {
    expect(resolveIdentity({ env: { MINUTELY_INSTANCE_ID: 'i-1', HOSTNAME: 'h' }, hostname }).instanceId)
      .toEqual({ value: 'i-1', source: 'env', env: 'MINUTELY_INSTANCE_ID' })
    expect(resolveIdentity({ env: { HOSTNAME: 'ip-10-0-0-1.ec2.internal' }, hostname }).instanceId)
      .toEqual({ value: 'ip-10-0-0-1.ec2.internal', source: 'env', env: 'HOSTNAME' })
    expect(resolveIdentity({ env: {}, hostname }).instanceId).toEqual({ value: 'the-hostname', source: 'hostname' })
  })

  it('treats empty and blank variables as unset', () => {
    const id = resolveIdentity({ env: { MINUTELY_INSTANCE_ID: '', HOSTNAME: '  ', MINUTELY_ENDPOINT_NAME: '' }, hostname })
    expect(id.instanceId.source).toBe('hostname')
    expect(id.endpointName).toBeUndefined()
  })

  it('reads endpoint and variant names, with AllTraffic as the default variant', () => {
    const id = resolveIdentity({ env: { MINUTELY_ENDPOINT_NAME: 'ep' }, hostname })
    expect(id.endpointName).toEqual({ value: 'ep', source: 'env', env: 'MINUTELY_ENDPOINT_NAME' })
    expect(id.variantName).toEqual({ value: kDefaultVariantName, source: 'default' })
    expect(kDefaultVariantName).toBe('AllTraffic')
    expect(resolveIdentity({ env: { MINUTELY_VARIANT_NAME: 'blue' }, hostname }).variantName.value).toBe('blue')
  })

  it('reads the training job and host number from SageMaker training variables', () => {
    const id = resolveIdentity({ env: { TRAINING_JOB_NAME: 'xgb-job', SM_CURRENT_HOST: 'algo-2' }, hostname })
    expect(id.trainingJobName).toEqual({ value: 'xgb-job', source: 'env', env: 'TRAINING_JOB_NAME' })
    expect(id.instanceNumber).toEqual({ value: 2, source: 'env', env: 'SM_CURRENT_HOST' })
    const own = resolveIdentity({ env: { MINUTELY_TRAINING_JOB_NAME: 'mine', TRAINING_JOB_NAME: 'theirs', MINUTELY_INSTANCE_NUMBER: '4', SM_CURRENT_HOST: 'algo-2' }, hostname })
    expect(own.trainingJobName?.value).toBe('mine')
    expect(own.instanceNumber).toEqual({ value: 4, source: 'env', env: 'MINUTELY_INSTANCE_NUMBER' })
    expect(resolveIdentity({ env: {}, hostname }).instanceNumber).toEqual({ value: 1, source: 'default' })
  })

  it('reads the transform job name', () => {
    expect(resolveIdentity({ env: { MINUTELY_TRANSFORM_JOB_NAME: 'xf' }, hostname }).transformJobName?.value).toBe('xf')
  })

  it.each([
    [{ env: { SM_CURRENT_HOST: 'worker-1' } }, 'SM_CURRENT_HOST must look like algo-N'],
    [{ env: { MINUTELY_INSTANCE_NUMBER: '0' } }, 'MINUTELY_INSTANCE_NUMBER must be an integer >= 1'],
    [{ instanceNumber: 0 }, 'options.instanceNumber'],
    [{ endpointName: '' }, 'options.endpointName'],
    [{ instanceId: '   ' }, 'options.instanceId'],
  ])('throws a ConfigError for unusable values (%#)', (opts, msg) => {
    expect(() => resolveIdentity({ hostname, env: {}, ...opts })).toThrow(expect.objectContaining({
      code: 'METRICS_ERR_INVALID_OPTION', message: expect.stringContaining(msg),
    }))
  })

  it('requireIdentity names the option and the variables', () => {
    const id = resolveIdentity({ env: {}, hostname })
    expect(() => requireIdentity(id.endpointName, 'endpointName'))
      .toThrow('options.endpointName is required: pass it, or set MINUTELY_ENDPOINT_NAME')
    expect(() => requireIdentity(id.trainingJobName, 'trainingJobName'))
      .toThrow('MINUTELY_TRAINING_JOB_NAME or TRAINING_JOB_NAME')
  })
})

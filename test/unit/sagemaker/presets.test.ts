import { describe, expect, it } from 'vitest'
import {
  algoHostName, defaultContainerName, endpointHost, endpointLogGroup, endpointLogStream,
  kDefaultInvocationNamespace, kEndpointsNamespace, kInstanceMetricNames, kInstanceMetricUnit, kInstanceNamespaces,
  kInvocationMetricNames, kInvocationMetricStatistics, kInvocationMetricUnits, kTrainingJobsLogGroup, kTrainingJobsNamespace,
  kTransformJobsLogGroup, kTransformJobsNamespace, resolveContainerNames, trainingHost, trainingLogStream, transformHost,
  transformLogStream, validateNamespace,
} from '../../../src/sagemaker/presets.js'
import { isStandardUnit } from '../../../src/limits.js'

/** Asserts `fn` throws a ConfigError with the option code and a message containing `field`. */
function expectOptionError (fn: () => unknown, field: string | RegExp): void {
  let caught: unknown
  try { fn() } catch (err) { caught = err }
  expect(caught).toBeInstanceOf(Error)
  const e = caught as { name: string, code: string, message: string }
  expect(e.name).toBe('ConfigError')
  expect(e.code).toBe('METRICS_ERR_INVALID_OPTION')
  if (typeof field === 'string') expect(e.message).toContain(field)
  else expect(e.message).toMatch(field)
}

describe('metric vocabulary', () => {
  it('has the seed invocation metrics with their units', () => {
    expect(kInvocationMetricUnits).toEqual({
      Invocation4XXErrors: 'None',
      Invocation5XXErrors: 'None',
      Invocations: 'None',
      InvocationsPerInstance: 'None',
      ModelLatency: 'Microseconds',
      OverheadLatency: 'Microseconds',
      ContainerLatency: 'Microseconds',
    })
    expect([...kInvocationMetricNames].sort()).toEqual(Object.keys(kInvocationMetricUnits).sort())
    for (const u of Object.values(kInvocationMetricUnits)) expect(isStandardUnit(u)).toBe(true)
  })

  it('lists the valid statistics from the seed', () => {
    expect(kInvocationMetricStatistics.Invocations).toEqual(['Sum', 'SampleCount'])
    expect(kInvocationMetricStatistics.Invocation5XXErrors).toEqual(['Average', 'Sum'])
    expect(kInvocationMetricStatistics.InvocationsPerInstance).toEqual(['Sum'])
    expect(kInvocationMetricStatistics.ModelLatency).toEqual(['Average', 'Sum', 'Minimum', 'Maximum', 'SampleCount'])
  })

  it('has the instance metrics, all in Percent, with the correct MemoryUtilization spelling', () => {
    expect(kInstanceMetricNames).toEqual(['CPUUtilization', 'MemoryUtilization', 'GPUUtilization', 'GPUMemoryUtilization', 'DiskUtilization'])
    expect(kInstanceMetricUnit).toBe('Percent')
  })

  it('maps each mode to its namespace', () => {
    expect(kInstanceNamespaces).toEqual({
      endpoint: '/aws/sagemaker/Endpoints',
      training: '/aws/sagemaker/TrainingJobs',
      transform: '/aws/sagemaker/TransformJobs',
    })
    expect(kEndpointsNamespace).toBe('/aws/sagemaker/Endpoints')
    expect(kTrainingJobsNamespace).toBe('/aws/sagemaker/TrainingJobs')
    expect(kTransformJobsNamespace).toBe('/aws/sagemaker/TransformJobs')
  })
})

describe('validateNamespace', () => {
  it('accepts the default and the instance namespaces', () => {
    expect(kDefaultInvocationNamespace.startsWith('AWS/')).toBe(false)
    for (const ns of [kDefaultInvocationNamespace, ...Object.values(kInstanceNamespaces), 'My App/ml#1:x.y-z_w']) {
      expect(validateNamespace(ns)).toBe(ns)
    }
  })

  it.each([
    ['AWS/SageMaker', /must not start with "AWS\/".*AWS\/SageMaker/],
    ['AWS/Custom', /reserves it for AWS services/],
  ])('rejects the reserved %s', (ns, msg) => {
    expectOptionError(() => validateNamespace(ns, 'options.namespace'), 'options.namespace')
    expectOptionError(() => validateNamespace(ns), msg)
  })

  it.each([
    ['', 'non-empty'],
    [42, 'non-empty string'],
    [undefined, 'non-empty string'],
    ['x'.repeat(256), 'at most 255'],
    ['bad*char', '"*" at index 3'],
    ['café', 'at index 3'],
    ['tab\there', 'at index 3'],
  ])('rejects %j', (ns, msg) => {
    expectOptionError(() => validateNamespace(ns, 'options.namespace'), msg)
    expectOptionError(() => validateNamespace(ns, 'options.namespace'), 'options.namespace')
  })

  it('allows lowercase aws/ (CloudWatch reserves only "AWS/")', () => {
    expect(validateNamespace('aws/mine')).toBe('aws/mine')
  })
})

describe('Host formats', () => {
  it('builds the endpoint Host [endpoint]/[variant]/[instance-id]', () => {
    expect(endpointHost('my-endpoint', 'AllTraffic', 'i-0123456789abcdef0')).toBe('my-endpoint/AllTraffic/i-0123456789abcdef0')
  })

  it('builds the training Host [job]/algo-[N]', () => {
    expect(trainingHost('xgb-2024-01-01', 1)).toBe('xgb-2024-01-01/algo-1')
    expect(trainingHost('job', 12)).toBe('job/algo-12')
    expect(algoHostName(3)).toBe('algo-3')
  })

  it('builds the transform Host [job]/[instance-id]', () => {
    expect(transformHost('batch-job', 'i-0abc')).toBe('batch-job/i-0abc')
  })

  it.each([
    [() => endpointHost('', 'v', 'i'), 'endpointName'],
    [() => endpointHost('a/b', 'v', 'i'), 'endpointName must not contain "/"'],
    [() => endpointHost('e', '  ', 'i'), 'variantName must not be blank'],
    [() => endpointHost('e', 'v', 'i\n'), 'instanceId must be printable ASCII'],
    [() => endpointHost('e', 'v', 'é'), 'instanceId'],
    [() => endpointHost('e', 'v', 3 as unknown as string), 'instanceId must be a non-empty string (got 3)'],
    [() => trainingHost('job', 0), 'instanceNumber must be an integer >= 1'],
    [() => trainingHost('job', 1.5), 'instanceNumber'],
    [() => trainingHost('', 1), 'trainingJobName'],
    [() => transformHost('job', ''), 'instanceId'],
    [() => transformHost('j/x', 'i'), 'transformJobName'],
    [() => endpointHost('e'.repeat(600), 'v'.repeat(600), 'i'), 'Host must be at most 1024'],
  ])('rejects bad parts (%#)', (fn, field) => {
    expectOptionError(fn, field)
  })
})

describe('log names', () => {
  it('names the endpoint log group and streams', () => {
    expect(endpointLogGroup('my-endpoint')).toBe('/aws/sagemaker/Endpoints/my-endpoint')
    expect(endpointLogStream('AllTraffic', 'i-0abc')).toBe('AllTraffic/i-0abc')
    expect(endpointLogStream('AllTraffic', 'i-0abc', 'container-2')).toBe('AllTraffic/i-0abc/container-2')
    expect(endpointLogStream('AllTraffic', 'i-0abc', 'preprocess')).toBe('AllTraffic/i-0abc/preprocess')
  })

  it('names training and transform streams', () => {
    expect(kTrainingJobsLogGroup).toBe('/aws/sagemaker/TrainingJobs')
    expect(kTransformJobsLogGroup).toBe('/aws/sagemaker/TransformJobs')
    expect(trainingLogStream('job', 2, 1700000000)).toBe('job/algo-2-1700000000')
    expect(transformLogStream('tj', 'i-1', 1700000000)).toBe('tj/i-1-1700000000')
    expect(transformLogStream('tj', 'i-1', 1700000000, 'data-log')).toBe('tj/i-1-1700000000/data-log')
    expect(transformLogStream('tj', 'i-1', 1700000000, 'container-1')).toBe('tj/i-1-1700000000/container-1')
  })

  it.each([
    [() => endpointLogGroup(''), 'endpointName'],
    [() => endpointLogStream('v', 'i', 'a:b'), 'must not contain ":" or "*"'],
    [() => endpointLogStream('v', 'i', 'a/b'), 'containerName'],
    [() => trainingLogStream('job', 1, -1), 'epochSeconds'],
    [() => trainingLogStream('job', 1, 1.5), 'epochSeconds'],
  ])('rejects bad log name parts (%#)', (fn, field) => {
    expectOptionError(fn, field)
  })
})

describe('container names', () => {
  it('names unnamed containers container-N in pipeline order', () => {
    expect(defaultContainerName(1)).toBe('container-1')
    expect(resolveContainerNames([undefined, undefined, undefined])).toEqual(['container-1', 'container-2', 'container-3'])
    expect(resolveContainerNames(['preprocess', undefined, 'postprocess'])).toEqual(['preprocess', 'container-2', 'postprocess'])
    expect(resolveContainerNames([null, ''])).toEqual(['container-1', 'container-2'])
  })

  it('rejects duplicates, including a given name that collides with a default', () => {
    expectOptionError(() => resolveContainerNames(['a', 'a']), 'containers[1]')
    expectOptionError(() => resolveContainerNames([undefined, 'container-1']), 'containers[1] is named "container-1"')
  })

  it('rejects bad positions and names', () => {
    expectOptionError(() => defaultContainerName(0), 'container position')
    expectOptionError(() => resolveContainerNames(['ok', 'x/y']), 'containers[1]')
    expectOptionError(() => resolveContainerNames('abc' as unknown as string[]), 'containers must be an array')
  })
})

/**
 * The SageMaker vocabulary as typed constants: metric names and units, dimension names,
 * namespaces, Host formats, and CloudWatch Logs group and stream names.
 *
 * Everything here is taken from the SageMaker Developer Guide page "Inference Pipeline Logs
 * and Metrics" (kept in `shared/seed/sagemaker-inference-pipeline-logs-and-metrics.txt`), so a
 * dashboard built for SageMaker's own metrics works on ours by changing only the namespace.
 * https://docs.aws.amazon.com/sagemaker/latest/dg/inference-pipeline-logs-metrics.html
 */
import { describe } from './internal.js'
import { invalidOption as invalid } from '../errors.js'
import { kMaxDimensionValueLength, kMaxNamespaceLength, type StandardUnit } from '../limits.js'

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/** The endpoint invocation metrics, in the order the seed lists them (plus ContainerLatency). */
export const kInvocationMetricNames = [
  'Invocation4XXErrors',
  'Invocation5XXErrors',
  'Invocations',
  'InvocationsPerInstance',
  'ModelLatency',
  'OverheadLatency',
  'ContainerLatency',
] as const

/** One of the endpoint invocation metric names. */
export type InvocationMetricName = typeof kInvocationMetricNames[number]

/**
 * The unit of each invocation metric. The counters are `None` (not `Count`) because that is
 * what SageMaker publishes, and CloudWatch treats a different unit as a different unit in
 * GetMetricStatistics: keeping `None` lets the same dashboards and alarms read both.
 */
export const kInvocationMetricUnits: Readonly<Record<InvocationMetricName, StandardUnit>> = Object.freeze({
  Invocation4XXErrors: 'None',
  Invocation5XXErrors: 'None',
  Invocations: 'None',
  InvocationsPerInstance: 'None',
  ModelLatency: 'Microseconds',
  OverheadLatency: 'Microseconds',
  ContainerLatency: 'Microseconds',
})

/** A CloudWatch statistic name. */
export type StatisticName = 'Average' | 'Sum' | 'Minimum' | 'Maximum' | 'SampleCount'

/**
 * The statistics the seed calls valid for each invocation metric (its "Min", "Max" and
 * "Sample Count" are CloudWatch's `Minimum`, `Maximum` and `SampleCount`). Others can be
 * computed but mean nothing: the Maximum of Invocations is always 1, for instance.
 */
export const kInvocationMetricStatistics: Readonly<Record<InvocationMetricName, readonly StatisticName[]>> = Object.freeze({
  Invocation4XXErrors: Object.freeze(['Average', 'Sum'] as const),
  Invocation5XXErrors: Object.freeze(['Average', 'Sum'] as const),
  Invocations: Object.freeze(['Sum', 'SampleCount'] as const),
  InvocationsPerInstance: Object.freeze(['Sum'] as const),
  ModelLatency: Object.freeze(['Average', 'Sum', 'Minimum', 'Maximum', 'SampleCount'] as const),
  OverheadLatency: Object.freeze(['Average', 'Sum', 'Minimum', 'Maximum', 'SampleCount'] as const),
  ContainerLatency: Object.freeze(['Average', 'Sum', 'Minimum', 'Maximum', 'SampleCount'] as const),
})

/**
 * The instance metrics of training jobs, transform jobs and endpoint instances.
 * The seed's heading spells the second one "MemoryUtilizaton"; that is a typo in the page
 * (the metric SageMaker publishes is `MemoryUtilization`), so we use the correct spelling.
 */
export const kInstanceMetricNames = [
  'CPUUtilization',
  'MemoryUtilization',
  'GPUUtilization',
  'GPUMemoryUtilization',
  'DiskUtilization',
] as const

/** One of the instance metric names. */
export type InstanceMetricName = typeof kInstanceMetricNames[number]

/** Every instance metric is a percentage (CPU and GPU ones scale with the device count). */
export const kInstanceMetricUnit: StandardUnit = 'Percent'

// ---------------------------------------------------------------------------------------------
// Dimensions
// ---------------------------------------------------------------------------------------------

/** Dimension of the invocation metrics: the endpoint. */
export const kDimensionEndpointName = 'EndpointName'
/** Dimension of the invocation metrics: the production variant. */
export const kDimensionVariantName = 'VariantName'
/** Dimension added to ContainerLatency only: the pipeline container. */
export const kDimensionContainerName = 'ContainerName'
/** The one dimension of the instance metrics. */
export const kDimensionHost = 'Host'

// ---------------------------------------------------------------------------------------------
// Namespaces
// ---------------------------------------------------------------------------------------------

/**
 * Where SageMaker itself publishes the invocation metrics. CloudWatch reserves every namespace
 * that starts with `AWS/` for AWS services, so PutMetricData from us would be refused there;
 * the constant exists for documentation and for {@link validateNamespace}'s message.
 */
export const kSageMakerNamespace = 'AWS/SageMaker'

/** The prefix CloudWatch reserves for AWS services (case-sensitive, as CloudWatch compares it). */
export const kReservedNamespacePrefix = 'AWS/'

/** Instance metrics of endpoint instances (Host = `endpoint/variant/instance-id`). */
export const kEndpointsNamespace = '/aws/sagemaker/Endpoints'
/** Instance metrics of training jobs (Host = `job/algo-N`). */
export const kTrainingJobsNamespace = '/aws/sagemaker/TrainingJobs'
/** Instance metrics of batch transform jobs (Host = `job/instance-id`). */
export const kTransformJobsNamespace = '/aws/sagemaker/TransformJobs'

/**
 * The default namespace of the invocation metrics: `minutely/SageMaker`.
 *
 * Why this name: `AWS/SageMaker` is reserved (see {@link kSageMakerNamespace}); a name that
 * starts with the producer (`minutely/`) says plainly that these are custom metrics written by
 * this library, so nobody mistakes them for AWS's own data and they do not collide with other
 * tools writing "SageMaker-like" metrics; keeping `SageMaker` in it means a console search for
 * "SageMaker" lists it beside `AWS/SageMaker`. It is only a default: pass `namespace`.
 */
export const kDefaultInvocationNamespace = 'minutely/SageMaker'

/** What a SageMaker resource is: decides the instance-metric namespace and the Host format. */
export type InstanceMode = 'endpoint' | 'training' | 'transform'

/** The instance-metric namespace of each {@link InstanceMode}. */
export const kInstanceNamespaces: Readonly<Record<InstanceMode, string>> = Object.freeze({
  endpoint: kEndpointsNamespace,
  training: kTrainingJobsNamespace,
  transform: kTransformJobsNamespace,
})

// Namespace characters CloudWatch accepts: [0-9A-Za-z.\-_/#: ] (PutMetricData API reference).
// A table rather than a regex, as undici validates tokens: one branch per char, no backtracking.
const kNamespaceChars = new Uint8Array(128)
for (const c of '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-_/#: ') kNamespaceChars[c.charCodeAt(0)] = 1

/**
 * Checks a namespace against CloudWatch's rules and returns it. Throws a {@link ConfigError}
 * (`METRICS_ERR_INVALID_OPTION`) naming `field` when it is not a string, is empty or longer
 * than 255 characters, holds a character outside `[0-9A-Za-z.-_/#: ]`, or starts with `AWS/`,
 * the prefix CloudWatch reserves for AWS services.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
 */
export function validateNamespace (namespace: unknown, field = 'namespace'): string {
  if (typeof namespace !== 'string' || namespace.length === 0) {
    throw invalid(`${field} must be a non-empty string (got ${describe(namespace)})`)
  }
  if (namespace.length > kMaxNamespaceLength) {
    throw invalid(`${field} must be at most ${kMaxNamespaceLength} characters (got ${namespace.length})`)
  }
  for (let i = 0; i < namespace.length; i++) {
    const c = namespace.charCodeAt(i)
    if (c >= 128 || kNamespaceChars[c] === 0) {
      throw invalid(`${field} may only contain 0-9 A-Z a-z . - _ / # : and space; ` +
        `${JSON.stringify(namespace[i])} at index ${i} of ${JSON.stringify(namespace)} is not allowed`)
    }
  }
  if (namespace.startsWith(kReservedNamespacePrefix)) {
    throw invalid(`${field} must not start with "${kReservedNamespacePrefix}": CloudWatch reserves it for AWS services ` +
      `(got ${JSON.stringify(namespace)}). SageMaker publishes to ${kSageMakerNamespace}, which we cannot write to; ` +
      `use a namespace of your own, such as the default "${kDefaultInvocationNamespace}"`)
  }
  return namespace
}

// ---------------------------------------------------------------------------------------------
// Host dimension values
// ---------------------------------------------------------------------------------------------

/**
 * The Host of an endpoint instance: `[endpoint-name]/[production-variant-name]/[instance-id]`,
 * used only in the `/aws/sagemaker/Endpoints` namespace.
 */
export function endpointHost (endpointName: string, variantName: string, instanceId: string): string {
  return checkHost(`${namePart(endpointName, 'endpointName')}/${namePart(variantName, 'variantName')}/${namePart(instanceId, 'instanceId')}`)
}

/**
 * The Host of a training instance: `[training-job-name]/algo-[instance-number-in-cluster]`,
 * used only in `/aws/sagemaker/TrainingJobs`. `instanceNumber` is 1-based, as SageMaker's
 * `algo-1`, `algo-2`, ... are.
 */
export function trainingHost (trainingJobName: string, instanceNumber: number): string {
  return checkHost(`${namePart(trainingJobName, 'trainingJobName')}/${algoHostName(instanceNumber)}`)
}

/**
 * The Host of a batch transform instance: `[transform-job-name]/[instance-id]`, used only in
 * `/aws/sagemaker/TransformJobs`.
 */
export function transformHost (transformJobName: string, instanceId: string): string {
  return checkHost(`${namePart(transformJobName, 'transformJobName')}/${namePart(instanceId, 'instanceId')}`)
}

/** `algo-N`: the name SageMaker gives the N-th (1-based) host of a training cluster. */
export function algoHostName (instanceNumber: number): string {
  if (!Number.isSafeInteger(instanceNumber) || instanceNumber < 1) {
    throw invalid(`instanceNumber must be an integer >= 1, as in algo-1 (got ${describe(instanceNumber)})`)
  }
  return `algo-${instanceNumber}`
}

// ---------------------------------------------------------------------------------------------
// CloudWatch Logs names
// ---------------------------------------------------------------------------------------------

/** Log group of training jobs (one group for all jobs). */
export const kTrainingJobsLogGroup = '/aws/sagemaker/TrainingJobs'
/** Log group of batch transform jobs (one group for all jobs). */
export const kTransformJobsLogGroup = '/aws/sagemaker/TransformJobs'
/** Log group of notebook instance lifecycle configurations. */
export const kNotebookInstancesLogGroup = '/aws/sagemaker/NotebookInstances'
/** Prefix of the per-endpoint log groups: `/aws/sagemaker/Endpoints/[EndpointName]`. */
export const kEndpointLogGroupPrefix = '/aws/sagemaker/Endpoints/'

// CloudWatch Logs: group and stream names are at most 512 characters; streams may not hold
// ':' or '*'. https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogStream.html
const kMaxLogNameLength = 512

/** The log group of one endpoint: `/aws/sagemaker/Endpoints/[EndpointName]`. */
export function endpointLogGroup (endpointName: string): string {
  return checkLogName(kEndpointLogGroupPrefix + namePart(endpointName, 'endpointName'), 'log group')
}

/**
 * The log stream of one endpoint instance: `[production-variant-name]/[instance-id]`, or
 * `[production-variant-name]/[instance-id]/[container-name]` for a container of an inference
 * pipeline. Use {@link resolveContainerNames} for containers that have no name.
 */
export function endpointLogStream (variantName: string, instanceId: string, containerName?: string): string {
  const base = `${namePart(variantName, 'variantName')}/${namePart(instanceId, 'instanceId')}`
  return checkLogName(containerName === undefined ? base : `${base}/${namePart(containerName, 'containerName')}`, 'log stream')
}

/**
 * The log stream of one training host (group {@link kTrainingJobsLogGroup}):
 * `[training-job-name]/algo-[instance-number-in-cluster]-[epoch_timestamp]`, the timestamp in
 * whole epoch seconds.
 */
export function trainingLogStream (trainingJobName: string, instanceNumber: number, epochSeconds: number): string {
  return checkLogName(`${namePart(trainingJobName, 'trainingJobName')}/${algoHostName(instanceNumber)}-${epoch(epochSeconds)}`, 'log stream')
}

/**
 * A log stream of one batch transform instance (group {@link kTransformJobsLogGroup}):
 * `[transform-job-name]/[instance-id]-[epoch_timestamp]`, with `/data-log` or
 * `/[container-name]` appended when `sub` is given (`'data-log'` or a pipeline container name).
 */
export function transformLogStream (transformJobName: string, instanceId: string, epochSeconds: number, sub?: string): string {
  const base = `${namePart(transformJobName, 'transformJobName')}/${namePart(instanceId, 'instanceId')}-${epoch(epochSeconds)}`
  return checkLogName(sub === undefined ? base : `${base}/${namePart(sub, 'sub')}`, 'log stream')
}

// ---------------------------------------------------------------------------------------------
// Container names
// ---------------------------------------------------------------------------------------------

/**
 * The name SageMaker gives an unnamed container of an inference pipeline: `container-N`,
 * N being its 1-based position in the model's container list.
 */
export function defaultContainerName (position: number): string {
  if (!Number.isSafeInteger(position) || position < 1) {
    throw invalid(`container position must be an integer >= 1, as in container-1 (got ${describe(position)})`)
  }
  return `container-${position}`
}

/**
 * Names the containers of a pipeline, in pipeline order: a given name is kept, an unnamed
 * entry (`undefined`, `null` or `''`) becomes `container-N` for its 1-based position, as
 * CloudWatch names pipeline log streams. Throws when two containers end up with the same name,
 * because their ContainerLatency series and log streams would merge.
 */
export function resolveContainerNames (names: ReadonlyArray<string | undefined | null>): string[] {
  if (!Array.isArray(names)) throw invalid(`containers must be an array of names (got ${describe(names)})`)
  const out: string[] = []
  const seen = new Set<string>()
  for (let i = 0; i < names.length; i++) {
    const given = names[i]
    const name = given === undefined || given === null || given === ''
      ? defaultContainerName(i + 1)
      : namePart(given, `containers[${i}]`)
    if (seen.has(name)) {
      throw invalid(`containers[${i}] is named ${JSON.stringify(name)}, which an earlier container already uses; ` +
        'container names of a pipeline must be unique')
    }
    seen.add(name)
    out.push(name)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/**
 * Checks one component of a Host value or log name and returns it. It must be a non-empty
 * string of printable ASCII without `/`, because `/` is the separator the Host formats and log
 * streams use: `a/b` as an endpoint name would make the Host ambiguous. We do not enforce
 * SageMaker's stricter name pattern (`[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`), because people who
 * run their own servers name things their own way; CloudWatch only needs the looser rule.
 */
export function namePart (value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(`${field} must be a non-empty string (got ${describe(value)})`)
  }
  if (value.trim().length === 0) throw invalid(`${field} must not be blank (got ${JSON.stringify(value)})`)
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === 0x2f) throw invalid(`${field} must not contain "/", the separator of Host values and log streams (got ${JSON.stringify(value)})`)
    if (c < 0x20 || c > 0x7e) {
      throw invalid(`${field} must be printable ASCII; character ${i} of ${JSON.stringify(value)} is not`)
    }
  }
  return value
}

function checkHost (host: string): string {
  if (host.length > kMaxDimensionValueLength) {
    throw invalid(`Host must be at most ${kMaxDimensionValueLength} characters, the CloudWatch limit of a dimension value (got ${host.length})`)
  }
  return host
}

function checkLogName (name: string, what: 'log group' | 'log stream'): string {
  if (name.length > kMaxLogNameLength) throw invalid(`${what} name must be at most ${kMaxLogNameLength} characters (got ${name.length})`)
  if (what === 'log stream' && (name.includes(':') || name.includes('*'))) {
    throw invalid(`${what} name must not contain ":" or "*" (got ${JSON.stringify(name)})`)
  }
  return name
}

function epoch (epochSeconds: number): number {
  if (!Number.isSafeInteger(epochSeconds) || epochSeconds < 0) {
    throw invalid(`epochSeconds must be a non-negative integer of epoch seconds (got ${describe(epochSeconds)})`)
  }
  return epochSeconds
}

/**
 * The instance-metric settings of the CLI (sidecar and pipeline proxy), in the sidecar's
 * settings-table format, and the function that starts the collector from them.
 *
 * `--instance-metrics endpoint` publishes CPUUtilization, MemoryUtilization, DiskUtilization,
 * GPUUtilization and GPUMemoryUtilization with `Host = [endpoint]/[variant]/[instance-id]`
 * in `/aws/sagemaker/Endpoints`; `training` with `Host = [job]/algo-[N]` in
 * `/aws/sagemaker/TrainingJobs`; `transform` with `Host = [job]/[instance-id]` in
 * `/aws/sagemaker/TransformJobs` (no DiskUtilization, as the seed says). Off by default.
 */
import { setting, type SettingsOf } from './config.js'
import { ConfigError, invalidOption as invalid } from '../errors.js'
import { startInstanceMetrics, kDefaultInstanceIntervalMs, kInstanceIntervalBounds, type InstanceMetrics, type InstanceMetricsOptions } from '../sagemaker/collectors/instance.js'
import type { MetricRecorder } from '../sagemaker/recorder.js'

/** Who this instance is: used by the instance metrics, the invocation metrics and the log stream names. */
export const kIdentitySettings = [
  setting({ flag: 'endpoint-name', env: 'MINUTELY_ENDPOINT_NAME', type: 'string', help: 'SageMaker endpoint name (EndpointName dimension, Host, log group)' }),
  setting({ flag: 'variant-name', env: 'MINUTELY_VARIANT_NAME', type: 'string', help: 'production variant name (VariantName dimension, Host, log stream) (default AllTraffic)' }),
  setting({ flag: 'instance-id', env: 'MINUTELY_INSTANCE_ID', type: 'string', help: 'instance id in Host and log stream names (default: HOSTNAME, else the host name)' }),
]

/** Who this instance is, resolved: `endpointName`, `variantName`, `instanceId`. */
export type IdentitySettings = SettingsOf<typeof kIdentitySettings>

/** The instance-metric settings (identity included). */
export const kInstanceSettings = [
  setting({ flag: 'instance-metrics', env: 'MINUTELY_INSTANCE_METRICS', type: 'string', default: 'off', help: 'publish CPU/memory/disk/GPU utilisation: endpoint | training | transform | off' }),
  ...kIdentitySettings,
  setting({ flag: 'training-job', env: 'MINUTELY_TRAINING_JOB_NAME', type: 'string', help: 'training job name, for --instance-metrics training (default: TRAINING_JOB_NAME)' }),
  setting({ flag: 'instance-number', env: 'MINUTELY_INSTANCE_NUMBER', type: 'integer', help: 'N of algo-N, for --instance-metrics training (default: SM_CURRENT_HOST, else 1)' }),
  setting({ flag: 'transform-job', env: 'MINUTELY_TRANSFORM_JOB_NAME', type: 'string', help: 'batch transform job name, for --instance-metrics transform' }),
  setting({ flag: 'instance-namespace', env: 'MINUTELY_INSTANCE_NAMESPACE', type: 'string', help: 'namespace of the instance metrics (default /aws/sagemaker/Endpoints, …/TrainingJobs or …/TransformJobs)' }),
  setting({ flag: 'instance-collect', env: 'MINUTELY_INSTANCE_COLLECT', type: 'list', help: 'which instance metrics: any of cpu,memory,disk,gpu (default: all; no disk for transform)' }),
  setting({ flag: 'disk-path', env: 'MINUTELY_DISK_PATH', type: 'string', default: '/', help: 'a path on the disk whose DiskUtilization is published' }),
  setting({ flag: 'cgroup-path', env: 'MINUTELY_CGROUP_PATH', type: 'string', default: 'auto', help: 'cgroup v2 directory measured for CPU and memory: auto (this process\'s cgroup) | host (whole machine, /proc) | <dir>' }),
  setting({ flag: 'instance-interval-ms', env: 'MINUTELY_INSTANCE_INTERVAL_MS', type: 'integer', default: kDefaultInstanceIntervalMs, help: `sampling period of the instance metrics (${kInstanceIntervalBounds.min}-${kInstanceIntervalBounds.max})` }),
]

/** The instance-metric settings, resolved. */
export type InstanceSettings = SettingsOf<typeof kInstanceSettings>

const kCollectNames = new Set(['cpu', 'memory', 'disk', 'gpu'])

/**
 * Starts the instance-metric collector the settings ask for, recording into `recorder`
 * (the aggregator); returns undefined for `--instance-metrics off`. Throws a ConfigError that
 * names the flag when a setting is wrong or a name part is missing. Stop it with `stop()`
 * before closing the aggregator.
 */
export function startInstanceMetricsFromSettings (s: InstanceSettings, recorder: MetricRecorder, log: (line: string) => void = () => {}): InstanceMetrics | undefined {
  const mode = s.instanceMetrics
  if (mode === 'off') return undefined
  if (mode !== 'endpoint' && mode !== 'training' && mode !== 'transform') {
    throw invalid(`--instance-metrics must be endpoint, training, transform or off; got ${JSON.stringify(s.instanceMetrics)}`)
  }
  // Repeated flags, or one comma-separated value (as the variable takes it).
  const list = s.instanceCollect.flatMap(x => x.split(',')).map(x => x.trim()).filter(x => x !== '')
  for (const x of list) if (!kCollectNames.has(x)) throw invalid(`--instance-collect takes cpu, memory, disk, gpu; got ${JSON.stringify(x)}`)
  const collect = list.length === 0
    ? undefined
    : { cpu: list.includes('cpu'), memory: list.includes('memory'), disk: list.includes('disk'), gpu: list.includes('gpu') }
  const cg = s.cgroupPath
  const common = {
    recorder,
    namespace: s.instanceNamespace,
    intervalMs: s.instanceIntervalMs,
    collect,
    diskPath: s.diskPath,
    cgroupPath: cg === 'auto' || cg === '' ? undefined : cg === 'host' ? false as const : cg,
    onWarning: (w: { message: string }) => { log(`instance metrics: ${w.message}`) },
  }
  let options: InstanceMetricsOptions
  const flagged = (m: string): string => m
    .replace('options.endpointName', '--endpoint-name').replace('options.variantName', '--variant-name')
    .replace('options.instanceId', '--instance-id').replace('options.trainingJobName', '--training-job')
    .replace('options.transformJobName', '--transform-job').replace('options.instanceNumber', '--instance-number')
    .replace('options.intervalMs', '--instance-interval-ms').replace('options.namespace', '--instance-namespace')
    .replace('options.diskPath', '--disk-path').replace('options.cgroupPath', '--cgroup-path')
  switch (mode) {
    case 'endpoint':
      options = { ...common, mode, endpointName: s.endpointName, variantName: s.variantName, instanceId: s.instanceId }
      break
    case 'training':
      options = { ...common, mode, trainingJobName: s.trainingJob, instanceNumber: s.instanceNumber }
      break
    default:
      options = { ...common, mode, transformJobName: s.transformJob, instanceId: s.instanceId }
  }
  let im: InstanceMetrics
  try {
    im = startInstanceMetrics(options)
  } catch (err) {
    if (err instanceof ConfigError) throw invalid(flagged(err.message))
    throw err
  }
  log(`instance metrics: ${mode} Host=${im.host} namespace ${im.namespace} every ${String(options.intervalMs ?? kDefaultInstanceIntervalMs)} ms`)
  return im
}

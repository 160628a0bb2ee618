/**
 * `minutely/sagemaker`: SageMaker's metric vocabulary, instance collectors and invocation
 * metrics for self-hosted model servers. Named exports and `export type` only.
 */
export type { MetricRecorder, RecordOptions, SeriesHandleLike } from './recorder.js'
export {
  kInvocationMetricNames, kInvocationMetricUnits, kInvocationMetricStatistics, kInstanceMetricNames, kInstanceMetricUnit,
  kDimensionEndpointName, kDimensionVariantName, kDimensionContainerName, kDimensionHost,
  kSageMakerNamespace, kReservedNamespacePrefix, kEndpointsNamespace, kTrainingJobsNamespace, kTransformJobsNamespace,
  kDefaultInvocationNamespace, kInstanceNamespaces, validateNamespace,
  endpointHost, trainingHost, transformHost, algoHostName,
  kTrainingJobsLogGroup, kTransformJobsLogGroup, kNotebookInstancesLogGroup, kEndpointLogGroupPrefix,
  endpointLogGroup, endpointLogStream, trainingLogStream, transformLogStream,
  defaultContainerName, resolveContainerNames, namePart,
} from './presets.js'
export type { InvocationMetricName, InstanceMetricName, InstanceMode, StatisticName } from './presets.js'
export { resolveIdentity, requireIdentity, kIdentityEnv, kDefaultVariantName } from './env.js'
export type { IdentityOptions, IdentitySource, Resolved, ResolvedIdentity } from './env.js'
export { createInvocationMetrics, kMicrosecondNow } from './invocations.js'
export type {
  InvocationMetrics, InvocationMetricsOptions, InvocationContext, ContainerTimer, MicrosecondClock, UntimedModelLatency,
} from './invocations.js'
export {
  withInvocationMetrics, expressInvocationMetrics, fastifyInvocationMetrics, invocationContext, isSageMakerInvocation,
  pathIs, createResponseTracker, kInvocationContext,
} from './middleware.js'
export type {
  MiddlewareOptions, AbortedRequests, InvocationPredicate, RequestLike, ResponseLike, ResponseTracker,
  ExpressRequestLike, ExpressResponseLike, ExpressMiddlewareLike,
  FastifyInstanceLike, FastifyPluginLike, FastifyReplyLike, FastifyRequestLike,
} from './middleware.js'
export { startInstanceMetrics, kDefaultInstanceIntervalMs } from './collectors/instance.js'
export type {
  InstanceMetrics, InstanceMetricsOptions, InstanceMetricsCommonOptions, EndpointInstanceOptions,
  TrainingInstanceOptions, TransformInstanceOptions, CollectSelection,
} from './collectors/instance.js'
export type { CollectorWarning, CollectorWarningCode, WarningHandler, IntervalTimers, MonotonicClock, LinuxPaths } from './collectors/common.js'
export {
  parseCgroupCpuStat, parseProcStat, parsePidStat, cpuUtilizationPercent, createCpuSampler, resolveCpuSource,
  cgroupCpuSource, procStatSource, pidsCpuSource, processCpuSource,
} from './collectors/cpu.js'
export type { CpuSource, CpuSourceKind, CpuTotals, CpuSampler, CpuSamplerOptions, CpuSourceOptions } from './collectors/cpu.js'
export { parseMeminfo, parseCgroupMemory, meminfoUtilizationPercent, createMemorySampler } from './collectors/memory.js'
export type { Meminfo, MemorySampler, MemorySamplerOptions } from './collectors/memory.js'
export { diskUtilizationPercent, createDiskSampler } from './collectors/disk.js'
export type { StatfsLike, StatfsFn, DiskSampler, DiskSamplerOptions } from './collectors/disk.js'
export { parseNvidiaSmiCsv, summarizeGpus, classifyNvidiaSmiFailure, createGpuSampler, kNvidiaSmiArgs } from './collectors/gpu.js'
export type {
  GpuReading, GpuTotals, GpuSampler, GpuSamplerOptions, GpuSamplerState, NvidiaSmiFailure, NvidiaSmiParseResult, ExecFileFn,
} from './collectors/gpu.js'

/**
 * Who this instance is: the parts of the Host dimension and of the invocation dimensions.
 *
 * Each field is looked up in a fixed order and the answer says where it came from, so a CLI
 * or a startup log can print "instance id from HOSTNAME" and nobody has to guess why a Host
 * reads the way it does. Nothing here touches the network: the EC2 instance metadata service
 * would know the real `i-…` id, but a library must not make a blocking HTTP call at startup
 * (and containers often cannot reach it); pass `instanceId` or set `MINUTELY_INSTANCE_ID`.
 */
import { hostname as osHostname } from 'node:os'
import { describe } from './internal.js'
import { invalidOption } from '../errors.js'
import { checkOptionNames, optionNames } from '../option-names.js'

/** Where a resolved identity field came from. */
export type IdentitySource =
  | 'option'   // passed in the options object
  | 'env'      // an environment variable (see `…Env` fields of the result for which one)
  | 'hostname' // os.hostname()
  | 'default'  // a documented default (VariantName `AllTraffic`, instance number 1)

/** The environment variables read, in the order they are tried (after the explicit option). */
export const kIdentityEnv = Object.freeze({
  /**
   * Instance id: `MINUTELY_INSTANCE_ID` (ours: set it to the EC2 id, a pod name, ...), then
   * `HOSTNAME`, which Docker and Kubernetes set to the container or pod name and EC2 shells
   * to the `ip-10-…` host name; then `os.hostname()`.
   */
  instanceId: Object.freeze(['MINUTELY_INSTANCE_ID', 'HOSTNAME'] as const),
  /** Endpoint name: `MINUTELY_ENDPOINT_NAME`. SageMaker sets no such variable in hosting containers. */
  endpointName: Object.freeze(['MINUTELY_ENDPOINT_NAME'] as const),
  /** Variant name: `MINUTELY_VARIANT_NAME`, else `AllTraffic`, the SageMaker Python SDK's default. */
  variantName: Object.freeze(['MINUTELY_VARIANT_NAME'] as const),
  /** Training job: `MINUTELY_TRAINING_JOB_NAME`, then `TRAINING_JOB_NAME`, which SageMaker sets in training containers. */
  trainingJobName: Object.freeze(['MINUTELY_TRAINING_JOB_NAME', 'TRAINING_JOB_NAME'] as const),
  /**
   * Training host number N of `algo-N`: `MINUTELY_INSTANCE_NUMBER` (a number), then
   * `SM_CURRENT_HOST` (`algo-2`), which the SageMaker training toolkit sets; else 1.
   */
  instanceNumber: Object.freeze(['MINUTELY_INSTANCE_NUMBER', 'SM_CURRENT_HOST'] as const),
  /** Transform job: `MINUTELY_TRANSFORM_JOB_NAME`. */
  transformJobName: Object.freeze(['MINUTELY_TRANSFORM_JOB_NAME'] as const),
})

/** The default production variant name, as the SageMaker Python SDK names a single variant. */
export const kDefaultVariantName = 'AllTraffic'

/** Options of {@link resolveIdentity}: explicit values win over the environment. */
export interface IdentityOptions {
  /** The instance id used in Host and log stream names. */
  instanceId?: string
  /** The endpoint name (EndpointName dimension, endpoint Host). */
  endpointName?: string
  /** The production variant name (VariantName dimension, endpoint Host). */
  variantName?: string
  /** The training job name (training Host). */
  trainingJobName?: string
  /** N of `algo-N` for a training host, 1-based. */
  instanceNumber?: number
  /** The transform job name (transform Host). */
  transformJobName?: string
  /**
   * The environment to read.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>
  /**
   * The host name of last resort.
   * @default os.hostname
   */
  hostname?: () => string
}

const kIdentityOptionNames = optionNames<IdentityOptions>({
  instanceId: true, endpointName: true, variantName: true, trainingJobName: true, instanceNumber: true, transformJobName: true, env: true, hostname: true,
})

/** One resolved field: its value and where it came from (`env` names the variable). */
export interface Resolved<T> {
  /** The value. */
  value: T
  /** Where it came from. */
  source: IdentitySource
  /** The environment variable it was read from, when `source` is `env`. */
  env?: string
}

/** What {@link resolveIdentity} found. Fields that have no source at all are absent. */
export interface ResolvedIdentity {
  /** Always present: `os.hostname()` is the last resort. */
  instanceId: Resolved<string>
  /** Absent when neither the option nor the variable is set. */
  endpointName?: Resolved<string>
  /** Always present (defaults to `AllTraffic`). */
  variantName: Resolved<string>
  /** Absent when neither the option nor a variable is set. */
  trainingJobName?: Resolved<string>
  /** Always present (defaults to 1). */
  instanceNumber: Resolved<number>
  /** Absent when neither the option nor the variable is set. */
  transformJobName?: Resolved<string>
}

/**
 * Resolves the instance identity from options, then the environment ({@link kIdentityEnv}),
 * then `os.hostname()` or a default. Empty and blank variables count as unset, because
 * `FOO=` in a Dockerfile or a compose file is a common way to "unset" something. Throws a
 * `ConfigError` when `MINUTELY_INSTANCE_NUMBER`/`SM_CURRENT_HOST` are set but unusable, since
 * silently falling back to `algo-1` would merge two hosts' metrics.
 */
export function resolveIdentity (options: IdentityOptions = {}): ResolvedIdentity {
  checkOptionNames(options, kIdentityOptionNames, 'resolveIdentity')
  const env = options.env ?? process.env
  const out: ResolvedIdentity = {
    instanceId: pick(options.instanceId, env, 'instanceId') ??
      { value: (options.hostname ?? osHostname)(), source: 'hostname' },
    variantName: pick(options.variantName, env, 'variantName') ?? { value: kDefaultVariantName, source: 'default' },
    instanceNumber: instanceNumber(options.instanceNumber, env),
  }
  const endpointName = pick(options.endpointName, env, 'endpointName')
  if (endpointName !== undefined) out.endpointName = endpointName
  const trainingJobName = pick(options.trainingJobName, env, 'trainingJobName')
  if (trainingJobName !== undefined) out.trainingJobName = trainingJobName
  const transformJobName = pick(options.transformJobName, env, 'transformJobName')
  if (transformJobName !== undefined) out.transformJobName = transformJobName
  return out
}

/**
 * Returns the value of a field that must be known, or throws a `ConfigError` that says both
 * how to pass it and which variables were tried.
 */
export function requireIdentity<T> (resolved: Resolved<T> | undefined, field: keyof typeof kIdentityEnv): T {
  if (resolved === undefined) {
    throw invalidOption(`options.${field} is required: pass it, or set ${kIdentityEnv[field].join(' or ')}`)
  }
  return resolved.value
}

function pick (explicit: string | undefined, env: Readonly<Record<string, string | undefined>>,
  field: Exclude<keyof typeof kIdentityEnv, 'instanceNumber'>): Resolved<string> | undefined {
  if (explicit !== undefined) {
    if (typeof explicit !== 'string' || explicit.trim() === '') {
      throw invalidOption(`options.${field} must be a non-empty string when given (got ${describe(explicit)})`)
    }
    return { value: explicit, source: 'option' }
  }
  for (const name of kIdentityEnv[field]) {
    const v = env[name]
    if (v !== undefined && v.trim() !== '') return { value: v.trim(), source: 'env', env: name }
  }
  return undefined
}

function instanceNumber (explicit: number | undefined, env: Readonly<Record<string, string | undefined>>): Resolved<number> {
  if (explicit !== undefined) {
    if (!Number.isSafeInteger(explicit) || explicit < 1) {
      throw invalidOption(`options.instanceNumber must be an integer >= 1 (got ${describe(explicit)})`)
    }
    return { value: explicit, source: 'option' }
  }
  const own = env.MINUTELY_INSTANCE_NUMBER?.trim()
  if (own !== undefined && own !== '') {
    const n = Number(own)
    if (!Number.isSafeInteger(n) || n < 1) {
      throw invalidOption(`MINUTELY_INSTANCE_NUMBER must be an integer >= 1 (got ${describe(own)})`)
    }
    return { value: n, source: 'env', env: 'MINUTELY_INSTANCE_NUMBER' }
  }
  const current = env.SM_CURRENT_HOST?.trim()
  if (current !== undefined && current !== '') {
    const m = /^algo-([1-9][0-9]*)$/.exec(current)
    if (m === null) throw invalidOption(`SM_CURRENT_HOST must look like algo-N (got ${describe(current)})`)
    return { value: Number(m[1]), source: 'env', env: 'SM_CURRENT_HOST' }
  }
  return { value: 1, source: 'default' }
}

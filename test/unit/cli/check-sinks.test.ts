import { describe, expect, it } from 'vitest'
import { checkSinks, kSidecarSettings } from '../../../src/cli/sidecar.js'
import { inMemorySink, type MetricSink } from '../../../src/index.js'

/** A sink that, like the CloudWatch sinks, has a start-up check (here one that always passes). */
const checked = (): MetricSink => Object.assign(inMemorySink(), { check: async () => ({ region: 'us-east-1' }) })

describe('checkSinks: the AWS retry variables minutely does not use', () => {
  it('names exactly the ones that are set', async () => {
    const lines: string[] = []
    await checkSinks([checked()], kSidecarSettings, l => lines.push(l), { AWS_MAX_ATTEMPTS: '5' })
    await checkSinks([checked()], kSidecarSettings, l => lines.push(l), { AWS_MAX_ATTEMPTS: '5', AWS_RETRY_MODE: 'adaptive' })
    expect(lines).toEqual([
      'warning: AWS_MAX_ATTEMPTS is not used: the AWS SDK makes one attempt per request, and minutely retries failed requests itself (with backoff, in order, counted)',
      'warning: AWS_MAX_ATTEMPTS and AWS_RETRY_MODE are not used: the AWS SDK makes one attempt per request, and minutely retries failed requests itself (with backoff, in order, counted)',
    ])
  })
  it('says nothing when neither is set, or when no sink talks to AWS', async () => {
    const lines: string[] = []
    await checkSinks([checked()], kSidecarSettings, l => lines.push(l), {})
    await checkSinks([inMemorySink()], kSidecarSettings, l => lines.push(l), { AWS_RETRY_MODE: 'standard' })
    expect(lines).toEqual([])
  })
})

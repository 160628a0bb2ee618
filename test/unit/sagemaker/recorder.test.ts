import { describe, expectTypeOf, it } from 'vitest'
import type { Aggregator } from '../../../src/core/aggregator.js'
import type { MetricRecorder } from '../../../src/sagemaker/recorder.js'
import { FakeRecorder } from './fake-recorder.js'

describe('MetricRecorder', () => {
  it('is implemented structurally by the aggregator and by the test double (checked by tsc)', () => {
    expectTypeOf<Aggregator>().toExtend<MetricRecorder>()
    expectTypeOf<FakeRecorder>().toExtend<MetricRecorder>()
  })
})

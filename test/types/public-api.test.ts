/**
 * The public API's types, as users see them from the package's entry points. These are
 * checked by `npm run typecheck` (a wrong type fails to compile) and run as plain tests.
 */
import { describe, expectTypeOf, it } from 'vitest'
import {
  createAggregator, cloudWatchSink, emfSink, inMemorySink, ManualClock, MetricsError, SinkError, ConfigError,
  type Aggregator, type AggregatorStats, type CloseResult, type FlushResult, type MetricSink, type SeriesHandle,
  type StandardUnit, type RejectReason, type Snapshot, type MetricsErrorCode,
} from '../../src/index.js'
import { createInvocationMetrics, type MetricRecorder } from '../../src/sagemaker/index.js'

describe('public API types', () => {
  it('createAggregator takes options and returns an Aggregator', () => {
    expectTypeOf(createAggregator).parameter(0).toHaveProperty('namespace').toEqualTypeOf<string>()
    expectTypeOf(createAggregator).returns.toEqualTypeOf<Aggregator>()
    expectTypeOf<Aggregator>().toMatchTypeOf<MetricRecorder>()   // the SageMaker layer records into it
  })

  it('record() never returns a value; series() returns a handle whose record takes a number', () => {
    expectTypeOf<Aggregator['record']>().returns.toEqualTypeOf<void>()
    expectTypeOf<Aggregator['series']>().returns.toEqualTypeOf<SeriesHandle>()
    expectTypeOf<SeriesHandle['record']>().parameters.toEqualTypeOf<[number]>()
    expectTypeOf<Aggregator['record']>().parameter(3).exclude<undefined>().toHaveProperty('unit').toEqualTypeOf<StandardUnit | undefined>()
  })

  it('flush/close/stats/snapshot have their documented shapes', () => {
    expectTypeOf<Aggregator['flush']>().returns.resolves.toEqualTypeOf<FlushResult>()
    expectTypeOf<Aggregator['close']>().returns.resolves.toEqualTypeOf<CloseResult>()
    expectTypeOf<AggregatorStats['rejectedByReason']>().toEqualTypeOf<Record<RejectReason, number>>()
    expectTypeOf<AggregatorStats>().toHaveProperty('samplesAccepted').toEqualTypeOf<number>()
    expectTypeOf<Aggregator['snapshot']>().returns.toEqualTypeOf<Snapshot>()
  })

  it('sinks are MetricSinks', () => {
    expectTypeOf(cloudWatchSink()).toMatchTypeOf<MetricSink>()
    expectTypeOf(emfSink()).toMatchTypeOf<MetricSink>()
    expectTypeOf(inMemorySink()).toMatchTypeOf<MetricSink>()
  })

  it('errors carry stable codes; SinkError says whether to retry', () => {
    expectTypeOf<MetricsError['code']>().toEqualTypeOf<MetricsErrorCode>()
    expectTypeOf<SinkError['retryable']>().toEqualTypeOf<boolean>()
    expectTypeOf<ConfigError>().toMatchTypeOf<MetricsError>()
  })

  it('the clock is injectable', () => {
    expectTypeOf(new ManualClock()).toHaveProperty('advance').toEqualTypeOf<(ms: number) => void>()
  })

  it('the SageMaker invocation metrics take a recorder', () => {
    expectTypeOf(createInvocationMetrics).parameter(0).toHaveProperty('recorder').toEqualTypeOf<MetricRecorder>()
  })
})
